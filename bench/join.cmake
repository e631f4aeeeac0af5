# JoinBarrier micro-benchmarks: JSON lines on stdout (spec/join-barrier.md JB-5.1).
add_executable(join_bench ${CMAKE_CURRENT_LIST_DIR}/join_bench.c)
target_link_libraries(join_bench PRIVATE tensorpool_static)
target_compile_options(join_bench PRIVATE ${TP_WARNINGS})
