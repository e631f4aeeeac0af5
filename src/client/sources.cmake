list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/client_context.c
  ${CMAKE_CURRENT_LIST_DIR}/client_map.c
  ${CMAKE_CURRENT_LIST_DIR}/driver_client.c
  ${CMAKE_CURRENT_LIST_DIR}/pool_announce.c
  ${CMAKE_CURRENT_LIST_DIR}/producer.c
  ${CMAKE_CURRENT_LIST_DIR}/consumer.c
  ${CMAKE_CURRENT_LIST_DIR}/consumer_rate.c
  ${CMAKE_CURRENT_LIST_DIR}/rate_gate.c
  ${CMAKE_CURRENT_LIST_DIR}/progress_rx.c
  ${CMAKE_CURRENT_LIST_DIR}/progress_tx.c
  ${CMAKE_CURRENT_LIST_DIR}/meta_store.c
  ${CMAKE_CURRENT_LIST_DIR}/meta_blob.c
  ${CMAKE_CURRENT_LIST_DIR}/meta_blob_out.c
  ${CMAKE_CURRENT_LIST_DIR}/consumer_control.c)
