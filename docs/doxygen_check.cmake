# ctest docs_api_doxygen_no_warnings: run Doxygen as the docs-api target does
# and fail on any warning (WARN_AS_ERROR = FAIL_ON_WARNINGS; the log is
# checked too, in case a Doxygen version only logs).
# cmake -DDOXYGEN=... -DDOXYFILE=... -DOUT=... -DSRC=... -P doxygen_check.cmake
if(NOT DOXYGEN)
  message(FATAL_ERROR "doxygen not found: scripts/deps.sh installs it, then re-run cmake")
endif()
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${DOXYGEN} ${DOXYFILE} WORKING_DIRECTORY ${SRC} RESULT_VARIABLE rc)
set(log "")
if(EXISTS ${OUT}/warnings.log)
  file(READ ${OUT}/warnings.log log)
endif()
if(NOT rc EQUAL 0 OR NOT log STREQUAL "")
  message(FATAL_ERROR "doxygen exited ${rc} with warnings:\n${log}")
endif()
if(NOT EXISTS ${OUT}/html/index.html OR NOT EXISTS ${OUT}/html/producer_8h.html)
  message(FATAL_ERROR "doxygen wrote no HTML for the headers in ${OUT}/html")
endif()
file(GLOB pages ${OUT}/html/*.html)
list(LENGTH pages n)
message(STATUS "API reference: ${n} HTML pages in ${OUT}/html, no warnings")
