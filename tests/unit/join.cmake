# join layer: MergeMap, registry, JoinBarrier core (docs/spec/join-barrier.md §6).
tp_add_test(join_barrier_test SOURCES unit/join_barrier_test.c LABELS join)
tp_add_test(join_codec_test SOURCES unit/join_codec_test.c LABELS join ARGS ${TP_INTEROP_DIR})
# >= 1M random cases against a reference model; TP_JOIN_PROPERTY_CASES scales it.
tp_add_test(join_property_test SOURCES unit/join_property_test.c LABELS join)
tp_add_alloc_test(join_alloc_test SOURCES unit/join_alloc_test.c LABELS join)
tp_add_test(join_map_test SOURCES unit/join_map_test.c LABELS join)
# join agent and MergeMap authority over the embedded transport (scenarios 85-91).
tp_add_test(join_agent_test SOURCES unit/join_agent_test.c LABELS join)
set_tests_properties(join_agent_test PROPERTIES TIMEOUT 60)
# No allocation in the agent's and the authority's duty cycles after start (JB-5.1, scenario 92).
tp_add_alloc_test(join_agent_alloc_test SOURCES unit/join_agent_alloc_test.c LABELS join)
# Join trace files for viewers (tp view): watch gating, ring, decoders, no allocation when recording.
tp_add_alloc_test(join_trace_test SOURCES unit/join_trace_test.c LABELS join)
