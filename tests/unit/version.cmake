# One version (project() in CMakeLists.txt) in the header, the shared
# library (tp_version(), file name, SONAME), tp --version, tensorpool.pc, the
# CMake package version file and the manual pages.
add_executable(version_probe ${CMAKE_CURRENT_LIST_DIR}/version_probe.c)
target_link_libraries(version_probe PRIVATE tensorpool) # the shared library, on purpose
target_compile_options(version_probe PRIVATE ${TP_WARNINGS})
add_test(NAME version_agrees
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/version_test.py ${PROJECT_VERSION}
          $<TARGET_FILE:version_probe> $<TARGET_FILE:tp> $<TARGET_FILE:tensorpool>
          ${TP_GENERATED_INCLUDE_DIR}/tensorpool/version.h ${PROJECT_BINARY_DIR}/tensorpool.pc
          ${PROJECT_BINARY_DIR}/tensorpoolConfigVersion.cmake ${PROJECT_BINARY_DIR}/man/man1/tp.1
          $<IF:$<BOOL:${CMAKE_READELF}>,${CMAKE_READELF},readelf>)
