list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/tensor_header.c
  ${CMAKE_CURRENT_LIST_DIR}/shm_layout.c
  ${CMAKE_CURRENT_LIST_DIR}/tensor_cache.c
  ${CMAKE_CURRENT_LIST_DIR}/shm_uri.c
  ${CMAKE_CURRENT_LIST_DIR}/shm_path.c
  ${CMAKE_CURRENT_LIST_DIR}/shm_dir.c
  ${CMAKE_CURRENT_LIST_DIR}/shm_region.c
  ${CMAKE_CURRENT_LIST_DIR}/shm_drops.c
  ${CMAKE_CURRENT_LIST_DIR}/shm_writer.c
  ${CMAKE_CURRENT_LIST_DIR}/slot_check.c
  ${CMAKE_CURRENT_LIST_DIR}/shm_reader.c
  ${CMAKE_CURRENT_LIST_DIR}/shm_retain.c)
