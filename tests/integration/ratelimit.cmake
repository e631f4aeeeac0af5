# RATE_LIMITED consumers and tp ratelimit as real processes (docs/spec/ratelimiter.md).
add_executable(ratelimit_helper ${CMAKE_CURRENT_LIST_DIR}/ratelimit_helper.c)
target_link_libraries(ratelimit_helper PRIVATE tensorpool_static)
target_compile_options(ratelimit_helper PRIVATE ${TP_WARNINGS})
tp_add_test(ratelimit_multiprocess_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/ratelimit_multiprocess_test.c
  ARGS $<TARGET_FILE:tp> $<TARGET_FILE:ratelimit_helper> LABELS ratelimit integration)
add_dependencies(ratelimit_multiprocess_test tp ratelimit_helper)
set_tests_properties(ratelimit_multiprocess_test PROPERTIES TIMEOUT 180)
