# Two hosts (network namespaces and a veth pair, else two dirs over
# 127.0.0.1) bridged over Aeron UDP, with faults (docs/spec/bridge.md).
if(TP_HAVE_AERON)
  tp_add_test(bridge_two_hosts_test SOURCES integration/bridge_two_hosts_test.c
              LABELS "bridge;aeron;integration" ARGS $<TARGET_FILE:tp>)
  add_dependencies(bridge_two_hosts_test tp)
  set_tests_properties(bridge_two_hosts_test PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE)
endif()
if(TP_HAVE_AERON)
  add_test(NAME tp_bridge_cli COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/bridge_cli_test.py $<TARGET_FILE:tp>)
  set_tests_properties(tp_bridge_cli PROPERTIES LABELS "bridge;cli;aeron;integration" TIMEOUT 120)
endif()
