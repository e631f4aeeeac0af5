# A neighbour planting files in the transport directory, as a separate process
# (docs/threat-model.md). "foreign" acts as another uid and needs root (77 otherwise).
tp_add_test(test_hostile_neighbour SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hostile_neighbour.c
            LABELS ipc integration ARGS sparse)
add_test(NAME test_hostile_neighbour_foreign COMMAND test_hostile_neighbour foreign)
set_tests_properties(test_hostile_neighbour_foreign PROPERTIES LABELS "ipc;integration" SKIP_RETURN_CODE 77)
add_test(NAME test_hostile_neighbour_bump COMMAND test_hostile_neighbour bump)
set_tests_properties(test_hostile_neighbour_bump PROPERTIES LABELS "ipc;integration")
add_test(NAME test_hostile_neighbour_ring COMMAND test_hostile_neighbour ring)
set_tests_properties(test_hostile_neighbour_ring PROPERTIES LABELS "shm;integration")
add_test(NAME test_hostile_neighbour_squat COMMAND test_hostile_neighbour squat)
set_tests_properties(test_hostile_neighbour_squat PROPERTIES LABELS "ipc;integration" SKIP_RETURN_CODE 77)
