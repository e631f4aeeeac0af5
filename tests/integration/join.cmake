# JoinBarrier end to end across processes (producers, authority, join stage).
tp_add_test(join_multiprocess_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/join_multiprocess_test.c LABELS join integration)
set_tests_properties(join_multiprocess_test PROPERTIES TIMEOUT 120)
