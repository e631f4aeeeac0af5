# tp demo and tp stat run as commands, end to end.
tp_add_test(demo_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/demo_test.c LABELS demo integration ARGS $<TARGET_FILE:tp>)
set_tests_properties(demo_test PROPERTIES TIMEOUT 300)
if(TP_HAVE_AERON_DRIVER)
  # The whole demo over aeron:ipc, the media driver inside the demo's driver:
  # exit 0 only if every stage worked (the demo's own check).
  add_test(NAME demo_aeron COMMAND tp demo --duration 3 --transport aeron)
  set_tests_properties(demo_aeron PROPERTIES LABELS "demo;integration;aeron" TIMEOUT 120
    PASS_REGULAR_EXPRESSION "result: OK")
endif()
