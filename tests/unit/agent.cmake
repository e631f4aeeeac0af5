tp_add_test(test_agent SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_agent.c LABELS agent)
tp_add_test(test_clock SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_clock.c LABELS agent)
