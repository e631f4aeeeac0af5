# JoinBarrier micro-benchmarks: JSON lines on stdout (docs/spec/join-barrier.md JB-5.1).
add_executable(bench_join ${CMAKE_CURRENT_LIST_DIR}/join_bench.c)
target_link_libraries(bench_join PRIVATE tensorpool_static)
target_compile_options(bench_join PRIVATE ${TP_WARNINGS})
