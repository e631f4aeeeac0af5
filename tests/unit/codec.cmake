tp_add_test(codec_golden_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/codec_golden_test.c)
tp_add_test(codec_interop_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/codec_interop_test.c ARGS ${TP_INTEROP_DIR})
add_test(NAME codec_interop_decode_values
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/interop/check_interop.py $<TARGET_FILE:tp> ${TP_INTEROP_DIR})
add_test(NAME codec_generated_files_current
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/sbe_codegen.py --check)
tp_add_test(codec_reject_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/codec_reject_test.c)
tp_add_alloc_test(codec_alloc_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/codec_alloc_test.c)
add_test(NAME tp_decode_cli
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/interop/check_tp_decode.py $<TARGET_FILE:tp> ${TP_INTEROP_DIR})
