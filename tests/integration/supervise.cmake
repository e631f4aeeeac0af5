# The supervisor end to end: driver, producer, tp supervise and consumers in
# separate processes (W-10.5.a, W-P1..W-P4), SIGKILL and restart included.
tp_add_test(supervise_multiprocess_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/supervise_multiprocess_test.c
  ARGS $<TARGET_FILE:tp> $<TARGET_FILE:driver_helper> LABELS supervisor integration)
add_dependencies(supervise_multiprocess_test tp driver_helper)
set_tests_properties(supervise_multiprocess_test PROPERTIES TIMEOUT 150)
