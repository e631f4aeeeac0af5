# Stream metadata across processes: producer, consumer, a hostile publisher
# and `tp stat --meta` (docs/spec/wire.md §10.3).
tp_add_test(meta_multiprocess_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/meta_multiprocess_test.c
  LABELS meta integration ARGS $<TARGET_FILE:tp>)
set_tests_properties(meta_multiprocess_test PROPERTIES TIMEOUT 180)
