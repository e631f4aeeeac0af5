list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/idle_strategy.c
  ${CMAKE_CURRENT_LIST_DIR}/agent_runner.c
  ${CMAKE_CURRENT_LIST_DIR}/agent_invoker.c
  ${CMAKE_CURRENT_LIST_DIR}/agent_composite.c)
