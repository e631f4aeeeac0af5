if(TP_HAVE_AERON)
  add_executable(bench_bridge ${CMAKE_CURRENT_LIST_DIR}/bridge_bench.c)
  target_link_libraries(bench_bridge PRIVATE tensorpool_static)
  target_compile_options(bench_bridge PRIVATE ${TP_WARNINGS})
endif()
# Aeron's own C samples, compiled unmodified from the source tree, for the
# floor of `bench_bridge --netns`: streaming_publisher -> rate_subscriber
# between the same two namespaces, each with a standalone aeronmd.
if(TP_HAVE_AERON_DRIVER AND TP_AERON_SOURCE_DIR AND TARGET aeronmd_s)
  set(_tp_samples ${TP_AERON_SOURCE_DIR}/aeron-samples/src/main/c)
  add_executable(tp_bench_aeron_streaming_publisher ${_tp_samples}/streaming_publisher.c ${_tp_samples}/sample_util.c)
  add_executable(tp_bench_aeron_rate_subscriber ${_tp_samples}/rate_subscriber.c ${_tp_samples}/sample_util.c)
  foreach(t tp_bench_aeron_streaming_publisher tp_bench_aeron_rate_subscriber)
    target_include_directories(${t} SYSTEM PRIVATE ${_tp_samples} ${TP_AERON_INCLUDE_DIRS})
    target_link_libraries(${t} PRIVATE aeron_driver_static)
    target_compile_options(${t} PRIVATE -w) # Aeron's code, Aeron's warnings
  endforeach()
  target_compile_definitions(bench_bridge PRIVATE
    TP_AERONMD="$<TARGET_FILE:aeronmd_s>"
    TP_AERON_PUB="$<TARGET_FILE:tp_bench_aeron_streaming_publisher>"
    TP_AERON_SUB="$<TARGET_FILE:tp_bench_aeron_rate_subscriber>")
  add_dependencies(bench_bridge aeronmd_s tp_bench_aeron_streaming_publisher tp_bench_aeron_rate_subscriber)
endif()
