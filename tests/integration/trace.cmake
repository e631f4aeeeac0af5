# Lineage end to end across processes: traced producers, a join stage
# publishing TraceLinkSets, `tp trace record` and `tp trace` (docs/spec/tracelink.md).
# Again over aeron:ipc as trace_multiprocess_test_aeron when Aeron is built.
tp_add_test(trace_multiprocess_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/trace_multiprocess_test.c
  LABELS trace integration ARGS $<TARGET_FILE:tp>)
set_tests_properties(trace_multiprocess_test PROPERTIES TIMEOUT 180)
tp_add_aeron_variant(trace_multiprocess_test $<TARGET_FILE:tp>)
