# Progressive frames with real processes: producer, opted-in consumer,
# hostile publisher and driver forked apart (docs/spec/wire.md W-10.2.2).
tp_add_test(progress_multiprocess_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/progress_multiprocess_test.c LABELS driver integration)
set_tests_properties(progress_multiprocess_test PROPERTIES TIMEOUT 180)
