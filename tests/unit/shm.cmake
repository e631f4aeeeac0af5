# SHM data plane unit tests.
tp_add_test(test_shm_layout SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_shm_layout.c ARGS ${TP_INTEROP_DIR} LABELS shm)
