# The manual pages the build made (apps/CMakeLists.txt, target man) hold the
# words of the help texts, one page per command and nothing else.
add_test(NAME man_pages_match_help
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/man_pages_test.py $<TARGET_FILE:tp> ${PROJECT_BINARY_DIR}/man)
