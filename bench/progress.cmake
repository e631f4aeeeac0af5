# Time to first row of 16 MiB frames, progressive vs whole frame (JSON lines):
# bench_progress [TRIALS [FRAMES_PER_TRIAL]]
add_executable(bench_progress ${CMAKE_CURRENT_LIST_DIR}/bench_progress.c)
target_link_libraries(bench_progress PRIVATE tensorpool_static)
target_compile_options(bench_progress PRIVATE ${TP_WARNINGS})
