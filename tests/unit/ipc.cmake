tp_add_test(test_ipc SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ipc.c LABELS ipc)
