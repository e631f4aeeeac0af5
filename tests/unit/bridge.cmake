# bridge layer: the receiver's frame assembler and the chunk codec (docs/spec/bridge.md).
tp_add_test(bridge_assembler_test SOURCES unit/bridge_assembler_test.c LABELS bridge)
# No allocation in the assembler after init (docs/spec/bridge.md §3 step 1).
tp_add_alloc_test(bridge_alloc_test SOURCES unit/bridge_alloc_test.c LABELS bridge)
if(TP_HAVE_AERON)
  # The bridge agent end to end in one process over aeron:udp on 127.0.0.1.
  tp_add_test(bridge_loopback_test SOURCES unit/bridge_loopback_test.c LABELS "bridge;aeron")
  set_tests_properties(bridge_loopback_test PROPERTIES TIMEOUT 90)
endif()
if(TP_HAVE_AERON)
  # The same run counting allocations inside the bridge's duty cycle: none
  # once frames flow (sender claims and encodes, receiver assembles into the
  # slot and commits).
  tp_add_alloc_test(bridge_agent_alloc_test SOURCES unit/bridge_loopback_test.c LABELS "bridge;aeron")
  target_compile_definitions(bridge_agent_alloc_test PRIVATE BRIDGE_ALLOC_TEST=1)
  set_tests_properties(bridge_agent_alloc_test PROPERTIES TIMEOUT 90)
endif()
