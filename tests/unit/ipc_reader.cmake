tp_add_test(test_ipc_reader SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ipc_reader.c LABELS ipc)
