# Driver and clients as real processes (docs/spec/driver.md §6).
add_executable(driver_helper ${CMAKE_CURRENT_LIST_DIR}/driver_helper.c)
target_link_libraries(driver_helper PRIVATE tensorpool_static)
target_compile_options(driver_helper PRIVATE ${TP_WARNINGS})
tp_add_test(test_driver_multiprocess SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_driver_multiprocess.c
  ARGS $<TARGET_FILE:tp> $<TARGET_FILE:driver_helper> LABELS driver integration)
add_dependencies(test_driver_multiprocess tp driver_helper)
set_tests_properties(test_driver_multiprocess PROPERTIES TIMEOUT 150)
tp_add_aeron_variant(test_driver_multiprocess $<TARGET_FILE:tp> $<TARGET_FILE:driver_helper>)
# The control and QoS channels over UDP on loopback (one media driver).
tp_add_aeron_udp_variant(test_driver_multiprocess $<TARGET_FILE:tp> $<TARGET_FILE:driver_helper>)
tp_add_test(test_truncate_multiprocess SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_truncate_multiprocess.c
  ARGS $<TARGET_FILE:tp> $<TARGET_FILE:driver_helper> LABELS driver integration)
add_dependencies(test_truncate_multiprocess tp driver_helper)
set_tests_properties(test_truncate_multiprocess PROPERTIES TIMEOUT 200)
