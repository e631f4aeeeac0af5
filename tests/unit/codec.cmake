tp_add_test(codec_golden_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/codec_golden_test.c)
tp_add_test(codec_interop_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/codec_interop_test.c ARGS ${TP_INTEROP_DIR})
add_test(NAME codec_interop_decode_values
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/interop/check_interop.py $<TARGET_FILE:tp> ${TP_INTEROP_DIR})
# JB-14.4: the committed codecs are what the generator makes of the current
# schemas/*.xml, so a schema change (after a spec change) cannot land without
# regenerating them: this fails on any difference.
add_test(NAME codec_generated_files_current
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/sbe_codegen.py --check)
# Schema rules of the wire digest (W-16.a/b, W-15.8.b, W-8.2.a, W-10.1.a/c/d, D-7)
# checked on schemas/*.xml and the generated headers.
add_test(NAME codec_schema_rules
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/schema_rules_test.py ${PROJECT_SOURCE_DIR})
tp_add_test(codec_reject_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/codec_reject_test.c)
tp_add_alloc_test(codec_alloc_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/codec_alloc_test.c)
add_test(NAME tp_decode_cli
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/interop/check_tp_decode.py $<TARGET_FILE:tp> ${TP_INTEROP_DIR})
