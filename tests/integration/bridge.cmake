# Two hosts (network namespaces and a veth pair, else two dirs over
# 127.0.0.1) bridged over Aeron UDP, with faults (docs/spec/bridge.md).
if(TP_HAVE_AERON)
  tp_add_test(bridge_two_hosts_test SOURCES integration/bridge_two_hosts_test.c
              LABELS "bridge;aeron;integration" ARGS $<TARGET_FILE:tp>)
  add_dependencies(bridge_two_hosts_test tp)
  set_tests_properties(bridge_two_hosts_test PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE)
endif()
