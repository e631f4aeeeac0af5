# Driver + producer + consumer end to end, separate processes (JSON lines).
add_executable(bench_driver ${CMAKE_CURRENT_LIST_DIR}/driver_bench.c)
target_link_libraries(bench_driver PRIVATE tensorpool_static)
target_compile_options(bench_driver PRIVATE ${TP_WARNINGS})
