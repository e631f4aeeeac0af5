# tp subcommands checked from outside, as a script would use them.
add_test(NAME tp_stat_live_view
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/stat_live_view_test.py $<TARGET_FILE:tp>)
set_tests_properties(tp_stat_live_view PROPERTIES LABELS "cli;integration" TIMEOUT 60)
add_test(NAME tp_clean_multiprocess
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/clean_test.py $<TARGET_FILE:tp> $<TARGET_FILE:driver_helper>)
set_tests_properties(tp_clean_multiprocess PROPERTIES LABELS "cli;integration" TIMEOUT 120)
