# Trace ids, TraceLinkSet glue and the lineage index (docs/spec/tracelink.md);
# allocation-counted: its hot-path test proves encode/decode/mint allocate nothing.
tp_add_alloc_test(test_trace SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_trace.c ARGS ${TP_INTEROP_DIR})
