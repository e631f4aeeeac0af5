tp_add_test(test_ipc_writer SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ipc_writer.c LABELS ipc)
