# JoinBarrier end to end across processes (producers, authority, join stage).
tp_add_test(join_multiprocess_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/join_multiprocess_test.c LABELS join integration)
set_tests_properties(join_multiprocess_test PROPERTIES TIMEOUT 120)
tp_add_aeron_variant(join_multiprocess_test)
# The join stage next to the real SHM driver and producer clients.
tp_add_test(join_driver_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/join_driver_test.c LABELS join driver integration)
set_tests_properties(join_driver_test PROPERTIES TIMEOUT 90)
tp_add_aeron_variant(join_driver_test)
# Joins after stalls and forged MergeMaps, end to end on tp demo (issue 14).
tp_add_test(join_stall_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/join_stall_test.c LABELS join demo integration ARGS $<TARGET_FILE:tp>)
set_tests_properties(join_stall_test PROPERTIES TIMEOUT 300)
# A sequence join across SIGKILL and restart of the driver and of each producer.
tp_add_test(join_restart_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/join_restart_test.c LABELS join driver integration)
set_tests_properties(join_restart_test PROPERTIES TIMEOUT 180)
