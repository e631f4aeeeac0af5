# Installed headers, libraries, pkg-config file and CMake package work for a user's program.
if(NOT TP_SANITIZE)
  add_test(NAME install_pkgconfig_and_find_package
    COMMAND ${PROJECT_SOURCE_DIR}/tests/install/check_install.sh ${CMAKE_BINARY_DIR})
  # runs the installed examples, whose directories examples_leave_no_files watches
  set_tests_properties(install_pkgconfig_and_find_package PROPERTIES RESOURCE_LOCK tp_examples)
endif()
