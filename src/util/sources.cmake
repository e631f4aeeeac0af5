list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/error.c
  ${CMAKE_CURRENT_LIST_DIR}/fault_guard.c
  ${CMAKE_CURRENT_LIST_DIR}/file_reserve.c
  ${CMAKE_CURRENT_LIST_DIR}/dir_fd.c
  ${CMAKE_CURRENT_LIST_DIR}/clock.c
  ${CMAKE_CURRENT_LIST_DIR}/json_writer.c
  ${CMAKE_CURRENT_LIST_DIR}/utf8.c
  ${CMAKE_CURRENT_LIST_DIR}/latency_hist.c
  ${CMAKE_CURRENT_LIST_DIR}/version.c)
