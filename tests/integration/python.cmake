# The Python package's tests (python/tests, pytest with Debian's python3):
# registered whenever the package is built (python/CMakeLists.txt), which
# scripts/deps.sh makes sure of by installing python3-dev, python3-numpy and
# python3-pytest. py_peer is the C side (python/peer). Each file is its own ctest entry; a skipped pytest test
# fails the entry (-W error and conftest's no-skip hook).
if(TP_HAVE_PYTHON)
  foreach(t frames join cross_process demo_join)
    add_test(NAME python_${t}
      COMMAND ${TP_PYTHON} -m pytest -p no:cacheprovider -v -rs
              ${PROJECT_SOURCE_DIR}/python/tests/test_${t}.py)
    set_tests_properties(python_${t} PROPERTIES LABELS "python;integration" TIMEOUT 300
      ENVIRONMENT "PYTHONPATH=${PROJECT_BINARY_DIR}/python;TP_PY_PEER=$<TARGET_FILE:py_peer>;TP_TP=$<TARGET_FILE:tp>;PYTHONDONTWRITEBYTECODE=1")
  endforeach()
endif()
if(TP_HAVE_PYTHON)
  add_test(NAME python_pip_install
    COMMAND ${TP_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/python_pip_install_test.py ${PROJECT_SOURCE_DIR})
  set_tests_properties(python_pip_install PROPERTIES LABELS "python;integration" TIMEOUT 600
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
