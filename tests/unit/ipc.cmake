tp_add_test(test_ipc SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ipc.c LABELS ipc)
tp_add_alloc_test(test_ipc_alloc SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ipc_alloc.c LABELS ipc)
tp_add_test(test_ipc_threads SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ipc_threads.c LABELS ipc tsan)
