# The Python package's tests (python/tests, pytest with Debian's python3):
# registered whenever the package is built (python/CMakeLists.txt), which
# scripts/deps.sh makes sure of by installing python3-dev, python3-numpy and
# python3-pytest. py_peer is the C side (python/peer). Each file is its own ctest entry; a skipped pytest test
# fails the entry (-W error and conftest's no-skip hook).
if(TP_HAVE_PYTHON)
  # Under TP_SANITIZE the extension carries ASan/UBSan code: Debian's python3
  # loads it only with their runtimes preloaded (CPython's own allocations at
  # exit are not leaks of ours).
  set(py_sanitize "")
  if(TP_SANITIZE)
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so OUTPUT_VARIABLE asan OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libubsan.so OUTPUT_VARIABLE ubsan OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT IS_ABSOLUTE "${asan}" OR NOT IS_ABSOLUTE "${ubsan}")
      message(FATAL_ERROR "TP_SANITIZE with the Python package: ${CMAKE_C_COMPILER} names no libasan.so/libubsan.so to preload (configure with -DTENSORPOOL_WITH_PYTHON=OFF)")
    endif()
    set(py_sanitize "LD_PRELOAD=${asan}:${ubsan};ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")
  endif()
  foreach(t frames join cross_process demo_join trace meta_rate)
    add_test(NAME python_${t}
      COMMAND ${TP_PYTHON} -m pytest -p no:cacheprovider -v -rs
              ${PROJECT_SOURCE_DIR}/python/tests/test_${t}.py)
    set_tests_properties(python_${t} PROPERTIES LABELS "python;integration" TIMEOUT 300
      ENVIRONMENT "PYTHONPATH=${PROJECT_BINARY_DIR}/python;TP_PY_PEER=$<TARGET_FILE:py_peer>;TP_TP=$<TARGET_FILE:tp>;PYTHONDONTWRITEBYTECODE=1;${py_sanitize}")
  endforeach()
endif()
if(TP_HAVE_PYTHON AND NOT TP_SANITIZE) # builds its own, uninstrumented extension
  add_test(NAME python_pip_install
    COMMAND ${TP_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/python_pip_install_test.py ${PROJECT_SOURCE_DIR})
  set_tests_properties(python_pip_install PROPERTIES LABELS "python;integration" TIMEOUT 600
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
