# Discovery, schema 910 (docs/spec/discovery.md): the codec with nested groups
# and the C reference's DiscoveryResponse (kept in fuzz/seeds as received).
tp_add_test(test_discovery_codec SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_discovery_codec.c
  ARGS ${PROJECT_SOURCE_DIR}/fuzz/seeds)
