# Frame round trip (claim, write, commit -> validated read -> frame back) between
# two processes, with its floor (tp:ipc message rtt + cache-line rtt) in the
# same probe bracket; JSON lines per placement regime.
add_executable(bench_frame_rtt ${CMAKE_CURRENT_LIST_DIR}/frame_rtt_bench.c)
target_link_libraries(bench_frame_rtt PRIVATE tensorpool_static)
target_compile_options(bench_frame_rtt PRIVATE ${TP_WARNINGS})
