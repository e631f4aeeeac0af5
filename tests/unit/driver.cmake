# Driver and client unit tests (driver.md §6).
tp_add_test(test_driver_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_driver_config.c LABELS driver)
tp_add_test(test_driver_protocol SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_driver_protocol.c LABELS driver)
tp_add_test(test_driver_client SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_driver_client.c LABELS driver)
tp_add_alloc_test(test_client_alloc SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_alloc.c LABELS driver)
tp_add_test(test_client_qos SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_qos.c LABELS driver)
tp_add_test(test_client_epoch SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_epoch.c LABELS driver)
