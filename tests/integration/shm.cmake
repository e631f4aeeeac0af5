# SHM multi-process tests. 10M frames by default (W-15.13.a).
tp_add_test(test_shm_stress SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_shm_stress.c LABELS shm integration)
set_tests_properties(test_shm_stress PROPERTIES TIMEOUT 300)
