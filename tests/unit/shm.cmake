# SHM data plane unit tests.
tp_add_test(test_shm_layout SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_shm_layout.c ARGS ${TP_INTEROP_DIR} LABELS shm)
tp_add_test(test_tensor_header SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tensor_header.c LABELS shm)
tp_add_test(test_shm_uri SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_shm_uri.c LABELS shm)
tp_add_test(test_shm_path SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_shm_path.c LABELS shm)
tp_add_test(test_shm_region SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_shm_region.c LABELS shm)
tp_add_test(test_shm_seqlock SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_shm_seqlock.c LABELS shm)
tp_add_test(test_shm_drops SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_shm_drops.c LABELS shm)
tp_add_alloc_test(test_shm_hotpath SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_shm_hotpath.c LABELS shm)
tp_add_test(test_tp_inspect SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tp_inspect.c ARGS $<TARGET_FILE:tp> LABELS shm)
tp_add_test(test_shm_random_input SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_shm_random_input.c LABELS shm)
# Region and transport-log creation on a full file system (own mount namespace; 77 = skipped).
tp_add_test(test_full_fs SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_full_fs.c ARGS $<TARGET_FILE:tp> LABELS shm)
set_tests_properties(test_full_fs PROPERTIES SKIP_RETURN_CODE 77)
