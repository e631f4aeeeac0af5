list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/ipc_conductor.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_context.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_channel.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_dir.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_doorbell.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_proc.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_log_file.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_lossless.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_embedded_channel.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_reclaim.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_embedded.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_embedded_publication.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_embedded_subscription.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_publication.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_subscription.c
  ${CMAKE_CURRENT_LIST_DIR}/ipc_media_driver.c)
if(TP_HAVE_AERON)
  list(APPEND TP_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/ipc_aeron.c
    ${CMAKE_CURRENT_LIST_DIR}/ipc_aeron_publication.c
    ${CMAKE_CURRENT_LIST_DIR}/ipc_aeron_subscription.c)
endif()
