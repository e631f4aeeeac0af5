add_executable(bench_floor ${CMAKE_CURRENT_LIST_DIR}/floor.c)
target_compile_options(bench_floor PRIVATE ${TP_WARNINGS})
