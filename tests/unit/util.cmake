tp_add_test(test_latency_hist SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_latency_hist.c LABELS util)
tp_add_test(test_dir_fd SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dir_fd.c LABELS util containment)
tp_add_test(test_json_writer SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_json_writer.c LABELS util)
