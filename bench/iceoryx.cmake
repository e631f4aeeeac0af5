# The iceoryx anchor (zero-copy ping-pong and burst throughput, as
# bench_frame_rtt and bench_driver measure tensorpool): built when Debian's
# iceoryx C binding is installed (scripts/deps.sh --iceoryx).
find_package(iceoryx_binding_c CONFIG QUIET)
if(iceoryx_binding_c_FOUND)
  add_executable(bench_iceoryx ${CMAKE_CURRENT_LIST_DIR}/iceoryx_bench.c)
  target_link_libraries(bench_iceoryx PRIVATE iceoryx_binding_c::iceoryx_binding_c)
  target_compile_options(bench_iceoryx PRIVATE ${TP_WARNINGS})
endif()
