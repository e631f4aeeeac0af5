# bench_python: Python view vs copy vs C read of a 1 MiB frame
# (bench/python_frame_bench.py), when the Python package is built. A small
# script so that bench/run finds it beside the C programs.
if(TP_HAVE_PYTHON)
  file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/bench_python
    CONTENT "#!/bin/sh\nexec ${TP_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/python_frame_bench.py --peer $<TARGET_FILE:py_peer> --pythonpath ${PROJECT_BINARY_DIR}/python \"$@\"\n"
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endif()
