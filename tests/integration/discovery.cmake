# Discovery across processes: driver, tagged producers, `tp discovery serve`,
# queries through the library and `tp discovery list`; a producer SIGKILLed,
# the driver SIGKILLed and restarted (docs/spec/discovery.md). Again over
# aeron:ipc as discovery_multiprocess_test_aeron when Aeron is built.
tp_add_test(discovery_multiprocess_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/discovery_multiprocess_test.c
  LABELS discovery integration ARGS $<TARGET_FILE:tp>)
set_tests_properties(discovery_multiprocess_test PROPERTIES TIMEOUT 180)
tp_add_aeron_variant(discovery_multiprocess_test $<TARGET_FILE:tp>)
# A registry aggregating two drivers (DS-6.1.a, DS-D9): the same stream id
# under both, one driver SIGKILLed.
tp_add_test(discovery_registry_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/discovery_registry_test.c
  LABELS discovery integration ARGS $<TARGET_FILE:tp>)
set_tests_properties(discovery_registry_test PROPERTIES TIMEOUT 180)
tp_add_aeron_variant(discovery_registry_test $<TARGET_FILE:tp>)
# Across hosts over aeron:udp in the bridge test's two-host rig (DS-D8).
if(TP_HAVE_AERON)
  tp_add_test(discovery_two_hosts_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/discovery_two_hosts_test.c
              LABELS "discovery;aeron;integration" ARGS $<TARGET_FILE:tp>)
  set_tests_properties(discovery_two_hosts_test PROPERTIES TIMEOUT 240 RUN_SERIAL TRUE)
endif()
