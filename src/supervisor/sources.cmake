list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/supervisor_policy.c
  ${CMAKE_CURRENT_LIST_DIR}/supervisor.c)
