# libtensorpool.so exports exactly the TP_API declarations of the public headers,
# and they are the list recorded in abi/libtensorpool.symbols (abi/README.md).
add_test(NAME abi_exports_public_api
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/abi_exports_test.py
          $<TARGET_FILE:tensorpool> "${PROJECT_SOURCE_DIR}/include:${TP_GENERATED_INCLUDE_DIR}"
          ${PROJECT_SOURCE_DIR}/abi/libtensorpool.symbols ${CMAKE_NM})
# The public headers compile alone and all together, from C and C++.
add_test(NAME public_headers_together
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/headers_together_test.sh "${PROJECT_SOURCE_DIR}/include:${TP_GENERATED_INCLUDE_DIR}"
          ${CMAKE_C_COMPILER} c++)
