tp_add_test(test_monitor SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_monitor.c LABELS monitor)
