# join layer: MergeMap, registry, JoinBarrier core (spec/join-barrier.md §6).
tp_add_test(join_barrier_test SOURCES unit/join_barrier_test.c LABELS join)
