# RATE_LIMITED consumers and the RateLimiter agent (docs/spec/ratelimiter.md).
tp_add_test(test_rate_gate SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_rate_gate.c LABELS ratelimit)
tp_add_alloc_test(test_client_rate SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_rate.c LABELS ratelimit driver)
