list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/discovery_provider.c
  ${CMAKE_CURRENT_LIST_DIR}/discovery_client.c)
