# Aeron's own tools see tensorpool (built only when Aeron is built from
# source: AeronStat is Aeron's C sample, compiled unmodified from the tree).
if(TP_HAVE_AERON_DRIVER AND TP_AERON_SOURCE_DIR AND TARGET aeronmd_s)
  add_executable(tp_test_aeron_stat ${TP_AERON_SOURCE_DIR}/aeron-samples/src/main/c/aeron_stat.c)
  target_link_libraries(tp_test_aeron_stat PRIVATE aeron_driver_static)
  add_executable(aeron_plain_subscriber ${CMAKE_CURRENT_LIST_DIR}/aeron_plain_subscriber.c)
  target_include_directories(aeron_plain_subscriber SYSTEM PRIVATE ${TP_AERON_INCLUDE_DIRS})
  target_link_libraries(aeron_plain_subscriber PRIVATE aeron_driver_static)
  target_compile_options(aeron_plain_subscriber PRIVATE ${TP_WARNINGS})
  add_dependencies(aeron_plain_subscriber aeronmd_s tp_test_aeron_stat tp)
  add_test(NAME aeron_tools_see_tensorpool
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/aeron_tools_test.sh $<TARGET_FILE:tp> $<TARGET_FILE:aeronmd_s>
            $<TARGET_FILE:tp_test_aeron_stat> $<TARGET_FILE:aeron_plain_subscriber>)
  set_tests_properties(aeron_tools_see_tensorpool PROPERTIES LABELS "aeron;integration" TIMEOUT 90)
endif()
