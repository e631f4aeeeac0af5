# The user guide's C blocks are complete programs or marked excerpts of them
# (verbatim), and each program is the file of the same name in examples/,
# which the build compiles and ctest runs (tools/guide_programs.py).
add_test(NAME docs_guide_programs
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/guide_programs.py check
          ${PROJECT_SOURCE_DIR}/docs/user-guide.md ${PROJECT_SOURCE_DIR}/examples)
# The tool refuses unmarked blocks, altered excerpts and diverging programs.
add_test(NAME docs_guide_tool_refuses
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/guide_tool_selftest.py)
# Copied out of the guide, each program builds alone against the shared
# library and runs for ~1 s, checking what it receives.
add_test(NAME docs_guide_programs_run
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/guide_programs_test.sh ${PROJECT_SOURCE_DIR}/docs/user-guide.md
          ${CMAKE_C_COMPILER} "${PROJECT_SOURCE_DIR}/include:${TP_GENERATED_INCLUDE_DIR}" $<TARGET_FILE_DIR:tensorpool>)
set_tests_properties(docs_guide_programs docs_guide_tool_refuses docs_guide_programs_run PROPERTIES LABELS "docs")
# RESOURCE_LOCK: the programs make the same /dev/shm directories as the
# example_* runs, which examples_leave_no_files watches
set_tests_properties(docs_guide_programs_run PROPERTIES TIMEOUT 300 RESOURCE_LOCK tp_examples)
if(TP_SANITIZE)
  # A sanitized library needs its runtime in the program too.
  set_tests_properties(docs_guide_programs_run PROPERTIES
    ENVIRONMENT "GUIDE_CFLAGS=-fsanitize=address,undefined -fno-sanitize-recover=all;GUIDE_RUN_MS=${TP_EXAMPLE_RUN_MS}")
endif()
# Every JSON key the tp commands print is documented in docs/json.md.
add_test(NAME docs_json_keys
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/json_doc_test.py ${PROJECT_SOURCE_DIR})
set_tests_properties(docs_json_keys PROPERTIES LABELS "docs")
