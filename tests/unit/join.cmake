# join layer: MergeMap, registry, JoinBarrier core (spec/join-barrier.md §6).
tp_add_test(join_barrier_test SOURCES unit/join_barrier_test.c LABELS join)
tp_add_test(join_codec_test SOURCES unit/join_codec_test.c LABELS join ARGS ${TP_INTEROP_DIR})
