# Forged, replayed and lost messages with real processes (docs/threat-model.md).
tp_add_test(test_forged_messages SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_forged_messages.c LABELS driver integration)
set_tests_properties(test_forged_messages PROPERTIES TIMEOUT 90)
