# Containment under attack (issue 14 item 1): a racer and a toggler process
# plant symlinks while the driver works; a victim directory must stay intact.
tp_add_test(test_containment_race SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_containment_race.c
  LABELS driver integration containment)
set_tests_properties(test_containment_race PROPERTIES TIMEOUT 60)
