# JoinBarrier micro-benchmarks: JSON lines on stdout (docs/spec/join-barrier.md JB-5.1).
# join_cref.c: the C reference's readiness algorithm, for comparison only.
add_executable(bench_join ${CMAKE_CURRENT_LIST_DIR}/join_bench.c ${CMAKE_CURRENT_LIST_DIR}/join_cref.c)
target_link_libraries(bench_join PRIVATE tensorpool_static)
target_compile_options(bench_join PRIVATE ${TP_WARNINGS})
