list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/sbe.c
  ${CMAKE_CURRENT_LIST_DIR}/registry.c
  ${CMAKE_CURRENT_LIST_DIR}/control_codec.c
  ${CMAKE_CURRENT_LIST_DIR}/driver_codec.c
  ${CMAKE_CURRENT_LIST_DIR}/bridge_codec.c
  ${CMAKE_CURRENT_LIST_DIR}/merge_codec.c
  ${CMAKE_CURRENT_LIST_DIR}/tracelink_codec.c
  ${CMAKE_CURRENT_LIST_DIR}/discovery_codec.c
  ${CMAKE_CURRENT_LIST_DIR}/control_response.c)
