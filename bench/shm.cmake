# SHM data plane benchmark (JSON lines on stdout): bench_shm [REPS]
add_executable(bench_shm ${CMAKE_CURRENT_LIST_DIR}/shm_bench.c)
target_link_libraries(bench_shm PRIVATE tensorpool_static)
target_compile_options(bench_shm PRIVATE ${TP_WARNINGS})
