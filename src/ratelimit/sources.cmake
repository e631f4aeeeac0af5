# ratelimit layer: the RateLimiter agent (docs/spec/ratelimiter.md).
list(APPEND TP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/ratelimit.c
  ${CMAKE_CURRENT_LIST_DIR}/ratelimit_config.c)
