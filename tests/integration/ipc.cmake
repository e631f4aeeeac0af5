tp_add_test(test_ipc_multiprocess SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ipc_multiprocess.c LABELS ipc integration)
set_tests_properties(test_ipc_multiprocess PROPERTIES TIMEOUT 120)
