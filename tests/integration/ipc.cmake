tp_add_test(test_ipc_multiprocess SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ipc_multiprocess.c LABELS ipc integration)
set_tests_properties(test_ipc_multiprocess PROPERTIES TIMEOUT 120)
tp_add_aeron_variant(test_ipc_multiprocess)
if(TP_HAVE_AERON_DRIVER)
  # Aeron media driver SIGKILLed and restarted under live objects.
  tp_add_test(test_aeron_media_driver_kill SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_aeron_media_driver_kill.c
    LABELS ipc integration aeron)
  set_tests_properties(test_aeron_media_driver_kill PROPERTIES TIMEOUT 60)
endif()
