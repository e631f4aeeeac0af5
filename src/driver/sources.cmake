list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/driver_toml.c
  ${CMAKE_CURRENT_LIST_DIR}/driver_config.c
  ${CMAKE_CURRENT_LIST_DIR}/driver_lock.c
  ${CMAKE_CURRENT_LIST_DIR}/driver_epoch.c
  ${CMAKE_CURRENT_LIST_DIR}/driver.c
  ${CMAKE_CURRENT_LIST_DIR}/driver_embedded.c
  ${CMAKE_CURRENT_LIST_DIR}/clean.c)
