# bridge layer: SHM <-> Aeron UDP bridge (docs/spec/bridge.md).
list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/bridge_chunk.c
  ${CMAKE_CURRENT_LIST_DIR}/bridge_assembler.c
  ${CMAKE_CURRENT_LIST_DIR}/bridge.c
  ${CMAKE_CURRENT_LIST_DIR}/bridge_config.c)
