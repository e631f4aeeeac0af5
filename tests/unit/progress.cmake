# FrameProgress: producer and consumer halves against the rig's driver, and
# the allocation count of both hot paths (docs/spec/wire.md W-10.2.2).
tp_add_test(test_frame_progress SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_frame_progress.c LABELS driver)
set_tests_properties(test_frame_progress PROPERTIES TIMEOUT 120)
tp_add_alloc_test(test_progress_alloc SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_progress_alloc.c LABELS driver)
set_tests_properties(test_progress_alloc PROPERTIES TIMEOUT 120)
