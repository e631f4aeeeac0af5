list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/merge_map.c
  ${CMAKE_CURRENT_LIST_DIR}/merge_map_registry.c
  ${CMAKE_CURRENT_LIST_DIR}/merge_map_codec.c
  ${CMAKE_CURRENT_LIST_DIR}/merge_map_authority.c
  ${CMAKE_CURRENT_LIST_DIR}/merge_map_aligner.c
  ${CMAKE_CURRENT_LIST_DIR}/join_barrier.c
  ${CMAKE_CURRENT_LIST_DIR}/join_explain.c
  ${CMAKE_CURRENT_LIST_DIR}/join_agent.c
  ${CMAKE_CURRENT_LIST_DIR}/join_agent_maps.c
  ${CMAKE_CURRENT_LIST_DIR}/join_agent_inputs.c
  ${CMAKE_CURRENT_LIST_DIR}/join_agent_descriptors.c
  ${CMAKE_CURRENT_LIST_DIR}/join_agent_output.c
  ${CMAKE_CURRENT_LIST_DIR}/join_agent_meta.c
  ${CMAKE_CURRENT_LIST_DIR}/join_trace.c
  ${CMAKE_CURRENT_LIST_DIR}/join_lineage.c)
