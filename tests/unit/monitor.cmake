tp_add_alloc_test(test_monitor SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_monitor.c LABELS monitor)
