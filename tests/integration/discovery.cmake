# Discovery across processes: driver, tagged producers, `tp discovery serve`,
# queries through the library and `tp discovery list`; a producer SIGKILLed,
# the driver SIGKILLed and restarted (docs/spec/discovery.md).
tp_add_test(discovery_multiprocess_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/discovery_multiprocess_test.c
  LABELS discovery integration ARGS $<TARGET_FILE:tp>)
set_tests_properties(discovery_multiprocess_test PROPERTIES TIMEOUT 180)
