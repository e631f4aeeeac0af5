# bridge layer: the receiver's frame assembler and the chunk codec (docs/spec/bridge.md).
tp_add_test(bridge_assembler_test SOURCES unit/bridge_assembler_test.c LABELS bridge)
# No allocation in the assembler after init (docs/spec/bridge.md §3 step 1).
tp_add_alloc_test(bridge_alloc_test SOURCES unit/bridge_alloc_test.c LABELS bridge)
