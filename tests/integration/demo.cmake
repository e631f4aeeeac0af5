# tp demo and tp stat run as commands, end to end.
tp_add_test(demo_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/demo_test.c LABELS demo integration ARGS $<TARGET_FILE:tp>)
set_tests_properties(demo_test PROPERTIES TIMEOUT 150)
