list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/trace_id.c
  ${CMAKE_CURRENT_LIST_DIR}/trace_link.c
  ${CMAKE_CURRENT_LIST_DIR}/trace_index.c)
