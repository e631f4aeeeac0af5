# tp subcommands checked from outside, as a script would use them.
add_test(NAME tp_stat_live_view
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/stat_live_view_test.py $<TARGET_FILE:tp>)
set_tests_properties(tp_stat_live_view PROPERTIES LABELS "cli;integration" TIMEOUT 60)
add_test(NAME tp_clean_multiprocess
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/clean_test.py $<TARGET_FILE:tp> $<TARGET_FILE:driver_helper>)
set_tests_properties(tp_clean_multiprocess PROPERTIES LABELS "cli;integration" TIMEOUT 120)
if(TARGET producer_consumer)
  add_test(NAME examples_leave_no_files
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/examples_leave_no_files_test.py
            $<TARGET_FILE:producer_consumer> $<TARGET_FILE:join_sequence>
            $<TARGET_FILE:join_timestamp> $<TARGET_FILE:join_latest> $<TARGET_FILE:lineage>
            $<TARGET_FILE:find_streams> $<TARGET_FILE:rate_limited>
            $<TARGET_FILE:progressive>
            $<TARGET_FILE:metadata>)
  set_tests_properties(examples_leave_no_files PROPERTIES LABELS "example;integration" TIMEOUT 300
    RESOURCE_LOCK tp_examples ENVIRONMENT "TP_EXAMPLE_RUN_MS=${TP_EXAMPLE_RUN_MS}")
endif()
# tp view in headless Chromium (scripts/test.sh installs Debian's chromium via
# scripts/deps.sh --browser); the screenshot lands in build/tests/.
if(TP_HAVE_VIEW)
  add_test(NAME tp_view_browser
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/view_browser_test.py $<TARGET_FILE:tp>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  # RUN_SERIAL: Chromium and a demo load both cores; alongside the timing-bound
  # demo and stat tests that would slow them past their bounds.
  set_tests_properties(tp_view_browser PROPERTIES LABELS "cli;integration;browser" TIMEOUT 300 SKIP_RETURN_CODE 77
                       RUN_SERIAL TRUE)
endif()
