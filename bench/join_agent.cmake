# JoinBarrierAgent end to end, lockstep two cameras across processes: latency
# (commit -> stage callback) p50/p99 and outputs/s, as JSON lines; the latency
# over tp:ipc and aeron:ipc side by side.
add_executable(bench_join_agent ${CMAKE_CURRENT_LIST_DIR}/join_agent_bench.c)
target_link_libraries(bench_join_agent PRIVATE tensorpool_static)
target_compile_options(bench_join_agent PRIVATE ${TP_WARNINGS})
target_include_directories(bench_join_agent PRIVATE ${PROJECT_SOURCE_DIR}/src) # ipc/ipc_media_driver.h
