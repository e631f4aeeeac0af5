# The user guide's code snippets are copied from examples/ (which compile and
# run as tests): fail when a snippet no longer matches its example.
add_test(NAME docs_snippets
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/check_doc_snippets.py
          ${PROJECT_SOURCE_DIR}/docs/user-guide.md ${PROJECT_SOURCE_DIR}/examples)
set_tests_properties(docs_snippets PROPERTIES LABELS "docs")
# Every JSON key the tp commands print is documented in docs/json.md.
add_test(NAME docs_json_keys
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/json_doc_test.py ${PROJECT_SOURCE_DIR})
set_tests_properties(docs_json_keys PROPERTIES LABELS "docs")
