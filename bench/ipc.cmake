add_executable(bench_ipc ${CMAKE_CURRENT_LIST_DIR}/bench_ipc.c)
target_link_libraries(bench_ipc PRIVATE tensorpool_static)
target_compile_options(bench_ipc PRIVATE ${TP_WARNINGS})
target_include_directories(bench_ipc PRIVATE ${PROJECT_SOURCE_DIR}/src) # ipc/ipc_media_driver.h
