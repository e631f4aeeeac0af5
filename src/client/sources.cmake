list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/client_context.c
  ${CMAKE_CURRENT_LIST_DIR}/client_map.c
  ${CMAKE_CURRENT_LIST_DIR}/driver_client.c
  ${CMAKE_CURRENT_LIST_DIR}/pool_announce.c
  ${CMAKE_CURRENT_LIST_DIR}/producer.c
  ${CMAKE_CURRENT_LIST_DIR}/consumer.c
  ${CMAKE_CURRENT_LIST_DIR}/consumer_control.c)
