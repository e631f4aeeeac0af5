# Join trace cost per output, watched and not (tp view).
add_executable(bench_join_trace ${CMAKE_CURRENT_LIST_DIR}/join_trace_bench.c)
target_link_libraries(bench_join_trace PRIVATE tensorpool_static)
target_compile_options(bench_join_trace PRIVATE ${TP_WARNINGS})
