# Stream metadata: store, meta blob assembler, producer -> consumer and join.
tp_add_alloc_test(test_meta_blob SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_meta_blob.c LABELS meta)
tp_add_alloc_test(test_meta_client SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_meta_client.c LABELS meta)
