# ctest docs_api_doxygen_no_warnings: run Doxygen as the docs-api target does
# and fail on any warning (WARN_AS_ERROR = FAIL_ON_WARNINGS; the log is
# checked too, in case a Doxygen version only logs).
# cmake -DDOXYGEN=... -DDOXYFILE=... -DOUT=... -P doxygen_check.cmake
# (Doxygen runs in OUT: it writes temporary files to its working directory.)
if(NOT DOXYGEN)
  message(FATAL_ERROR "doxygen not found: scripts/deps.sh installs it, then re-run cmake")
endif()
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${DOXYGEN} ${DOXYFILE} WORKING_DIRECTORY ${OUT} RESULT_VARIABLE rc
  OUTPUT_VARIABLE out ERROR_VARIABLE out)
set(log "")
if(EXISTS ${OUT}/warnings.log)
  file(READ ${OUT}/warnings.log log)
endif()
if(NOT rc EQUAL 0 OR NOT log STREQUAL "")
  message(FATAL_ERROR "doxygen exited ${rc}; warnings:\n${log}\noutput:\n${out}")
endif()
if(NOT EXISTS ${OUT}/html/index.html OR NOT EXISTS ${OUT}/html/producer_8h.html)
  message(FATAL_ERROR "doxygen wrote no HTML for the headers in ${OUT}/html")
endif()
file(GLOB pages ${OUT}/html/*.html)
list(LENGTH pages n)
message(STATUS "API reference: ${n} HTML pages in ${OUT}/html, no warnings")
# The headers' plain comments reached the pages (tools/doxygen_filter.py):
# most of producer.h's declarations carry a description.
file(READ ${OUT}/html/producer_8h.html page)
string(REGEX MATCHALL "class=\"memdoc\">[\r\n ]*<p" described "${page}")
string(REGEX MATCHALL "class=\"memdoc\">" members "${page}")
list(LENGTH described nd)
list(LENGTH members nm)
math(EXPR half "${nm} / 2")
if(nd LESS 5 OR nd LESS half)
  message(FATAL_ERROR "only ${nd} of ${nm} members of producer.h have a description: are the comments filtered?")
endif()
message(STATUS "producer.h: ${nd} of ${nm} members described")
