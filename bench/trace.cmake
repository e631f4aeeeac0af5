# Cost of lineage per join output: mint, gather parents, encode, publish (JSON lines).
add_executable(bench_trace ${CMAKE_CURRENT_LIST_DIR}/trace_bench.c)
target_link_libraries(bench_trace PRIVATE tensorpool_static)
target_compile_options(bench_trace PRIVATE ${TP_WARNINGS})
