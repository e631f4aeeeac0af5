# Driver and client unit tests (docs/spec/driver.md §6).
tp_add_test(test_driver_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_driver_config.c LABELS driver
  ARGS ${PROJECT_SOURCE_DIR}/docs/configuration.md)
tp_add_test(test_driver_protocol SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_driver_protocol.c LABELS driver)
tp_add_test(test_pool_announce SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pool_announce.c LABELS driver)
tp_add_test(test_driver_client SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_driver_client.c LABELS driver)
tp_add_alloc_test(test_client_alloc SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_alloc.c LABELS driver)
tp_add_test(test_client_qos SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_qos.c LABELS driver)
# Client file and transport calls through link-time wrappers (the test defines __wrap_*).
tp_add_test(test_client_wrap SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_wrap.c LABELS driver)
target_link_options(test_client_wrap PRIVATE
  -Wl,--wrap=open,--wrap=openat,--wrap=fopen,--wrap=ftruncate,--wrap=linkat,--wrap=mkdir,--wrap=mkdirat
  -Wl,--wrap=rename,--wrap=renameat,--wrap=rmdir,--wrap=unlink,--wrap=unlinkat,--wrap=tp_ipc_publication_offer)
tp_add_test(test_client_percons SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_percons.c LABELS driver)
tp_add_test(test_client_epoch SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_epoch.c LABELS driver)
# The same driver and client tests with the driver, the rig and the clients on
# aeron:ipc, the driver running the media driver (driver_test_rig.h). Over
# Aeron an offer can be lost while a client reconnects to a restarted media
# driver, so the rig retries requests until answered and answers every
# retransmission, as the driver client and the driver do. D-4.5.a: every
# driver control message travels on the control stream, over Aeron too.
foreach(t test_driver_protocol test_driver_client test_client_qos test_client_percons test_client_epoch)
  tp_add_aeron_variant(${t})
endforeach()
