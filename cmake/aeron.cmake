# The optional Aeron transport (aeron:ipc, aeron:udp). Sets
#   TP_HAVE_AERON         ON when the backend is built
#   TP_HAVE_AERON_DRIVER  ON when the embedded media driver is available too
#   TP_AERON_LINK         what the library links (a target or a file)
#   TP_AERON_INCLUDE_DIRS where aeronc.h (and aeronmd.h) live
#
# TENSORPOOL_WITH_AERON = AUTO (default: use Aeron when found), ON (fail when
# not found) or OFF. Aeron is looked for, in this order:
#   1. a source tree: -DAERON_ROOT=... or the AERON_ROOT environment variable
#      (the C reference implementation's convention); its C client and C media
#      driver are built as part of this build (only the static driver library,
#      which holds the client too);
#   2. an installed Aeron: aeronc.h and libaeron_driver or libaeron;
#   3. with -DTENSORPOOL_AERON_DOWNLOAD=ON, the pinned release archive,
#      verified against TENSORPOOL_AERON_SHA256 (needs the network).
set(TENSORPOOL_WITH_AERON AUTO CACHE STRING "Aeron transport: AUTO, ON or OFF")
set_property(CACHE TENSORPOOL_WITH_AERON PROPERTY STRINGS AUTO ON OFF)
set(AERON_ROOT "$ENV{AERON_ROOT}" CACHE PATH "Aeron source tree (the unpacked release)")
option(TENSORPOOL_AERON_DOWNLOAD "Download the pinned Aeron release when no other is found" OFF)
set(TENSORPOOL_AERON_VERSION 1.47.3)
set(TENSORPOOL_AERON_URL
    "https://github.com/real-logic/aeron/archive/refs/tags/${TENSORPOOL_AERON_VERSION}.tar.gz"
    CACHE STRING "Where TENSORPOOL_AERON_DOWNLOAD fetches Aeron from")
set(TENSORPOOL_AERON_SHA256 "" CACHE STRING "sha256 the downloaded Aeron archive must have")

set(TP_HAVE_AERON OFF)
set(TP_HAVE_AERON_DRIVER OFF)
set(TP_AERON_LINK "")
set(TP_AERON_INCLUDE_DIRS "")
set(TP_AERON_SOURCE_DIR "") # set when Aeron is built from source

# Build Aeron's C client and driver from a source tree. Aeron's top-level
# CMakeLists wants CMake 3.26, so its two C directories are added directly,
# with the definitions the top level would have made. A function, so these
# settings stay out of the rest of the build.
function(tp_aeron_build_from_source root)
  file(STRINGS "${root}/version.txt" ver LIMIT_COUNT 1 REGEX "^[0-9]+\\.[0-9]+\\.[0-9]+")
  if(NOT ver MATCHES "^([0-9]+)\\.([0-9]+)\\.([0-9]+)")
    message(FATAL_ERROR "Aeron: ${root}/version.txt holds no version")
  endif()
  get_directory_property(defs_before COMPILE_DEFINITIONS)
  add_compile_definitions(
    AERON_VERSION_TXT="${ver}" AERON_VERSION_MAJOR=${CMAKE_MATCH_1}
    AERON_VERSION_MINOR=${CMAKE_MATCH_2} AERON_VERSION_PATCH=${CMAKE_MATCH_3}
    AERON_VERSION_GITSHA="release-${ver}")
  set(AERON_INSTALL_TARGETS OFF)
  set(CMAKE_C_EXTENSIONS ON) # Aeron is written for gnu11
  set(AERON_C_CLIENT_SOURCE_PATH "${root}/aeron-client/src/main/c")
  # Aeron's own code is built without the sanitizer and fuzzer
  # instrumentation of a TP_SANITIZE/TP_FUZZ build (its lock-free buffers
  # do deliberate unaligned and racy accesses); tensorpool's Aeron backend
  # (src/ipc/ipc_aeron*.c) is instrumented like the rest of the library.
  get_directory_property(opts_before COMPILE_OPTIONS)
  set(opts_aeron)
  foreach(o ${opts_before})
    if(NOT o MATCHES "^-fsanitize|^-fno-sanitize")
      list(APPEND opts_aeron "${o}")
    endif()
  endforeach()
  set_directory_properties(PROPERTIES COMPILE_OPTIONS "${opts_aeron}")
  # EXCLUDE_FROM_ALL: only what tensorpool links gets built (the static
  # driver library), not the shared libraries or aeronmd.
  add_subdirectory("${root}/aeron-client/src/main/c" "${CMAKE_BINARY_DIR}/aeron/client" EXCLUDE_FROM_ALL)
  add_subdirectory("${root}/aeron-driver/src/main/c" "${CMAKE_BINARY_DIR}/aeron/driver" EXCLUDE_FROM_ALL)
  # Subdirectories copied the definitions and options; tensorpool's own code
  # needs none of Aeron's definitions and keeps its options.
  set_directory_properties(PROPERTIES COMPILE_DEFINITIONS "${defs_before}" COMPILE_OPTIONS "${opts_before}")
  message(STATUS "Aeron ${ver}: building the C client and media driver from ${root}")
endfunction()

if(NOT TENSORPOOL_WITH_AERON STREQUAL "OFF")
  if(AERON_ROOT)
    if(NOT EXISTS "${AERON_ROOT}/aeron-driver/src/main/c/CMakeLists.txt")
      message(FATAL_ERROR "AERON_ROOT=${AERON_ROOT} is not an Aeron source tree "
                          "(no aeron-driver/src/main/c/CMakeLists.txt)")
    endif()
    tp_aeron_build_from_source("${AERON_ROOT}")
    set(TP_AERON_SOURCE_DIR "${AERON_ROOT}") # its C samples (AeronStat) serve the tests
    set(TP_HAVE_AERON ON)
    set(TP_HAVE_AERON_DRIVER ON)
    set(TP_AERON_LINK aeron_driver_static)
    set(TP_AERON_INCLUDE_DIRS "${AERON_ROOT}/aeron-client/src/main/c" "${AERON_ROOT}/aeron-driver/src/main/c")
  else()
    find_path(TP_AERON_CLIENT_INCLUDE aeronc.h PATH_SUFFIXES aeron)
    find_path(TP_AERON_DRIVER_INCLUDE aeronmd.h PATH_SUFFIXES aeronmd)
    find_library(TP_AERON_DRIVER_LIBRARY aeron_driver)
    find_library(TP_AERON_CLIENT_LIBRARY aeron)
    if(TP_AERON_CLIENT_INCLUDE AND TP_AERON_DRIVER_INCLUDE AND TP_AERON_DRIVER_LIBRARY)
      # libaeron_driver holds the client as well.
      set(TP_HAVE_AERON ON)
      set(TP_HAVE_AERON_DRIVER ON)
      set(TP_AERON_LINK "${TP_AERON_DRIVER_LIBRARY}")
      set(TP_AERON_INCLUDE_DIRS "${TP_AERON_CLIENT_INCLUDE}" "${TP_AERON_DRIVER_INCLUDE}")
      message(STATUS "Aeron: installed client and media driver (${TP_AERON_DRIVER_LIBRARY})")
    elseif(TP_AERON_CLIENT_INCLUDE AND TP_AERON_CLIENT_LIBRARY)
      set(TP_HAVE_AERON ON)
      set(TP_AERON_LINK "${TP_AERON_CLIENT_LIBRARY}")
      set(TP_AERON_INCLUDE_DIRS "${TP_AERON_CLIENT_INCLUDE}")
      message(STATUS "Aeron: installed client (${TP_AERON_CLIENT_LIBRARY}); no embedded media driver")
    elseif(TENSORPOOL_AERON_DOWNLOAD)
      if(NOT TENSORPOOL_AERON_SHA256 MATCHES "^[0-9a-f]{64}$")
        message(FATAL_ERROR "TENSORPOOL_AERON_DOWNLOAD needs TENSORPOOL_AERON_SHA256 (the archive's sha256)")
      endif()
      include(FetchContent)
      FetchContent_Declare(tp_aeron URL "${TENSORPOOL_AERON_URL}" URL_HASH SHA256=${TENSORPOOL_AERON_SHA256})
      FetchContent_GetProperties(tp_aeron)
      if(NOT tp_aeron_POPULATED)
        FetchContent_Populate(tp_aeron)
      endif()
      tp_aeron_build_from_source("${tp_aeron_SOURCE_DIR}")
      set(TP_AERON_SOURCE_DIR "${tp_aeron_SOURCE_DIR}")
      set(TP_HAVE_AERON ON)
      set(TP_HAVE_AERON_DRIVER ON)
      set(TP_AERON_LINK aeron_driver_static)
      set(TP_AERON_INCLUDE_DIRS "${tp_aeron_SOURCE_DIR}/aeron-client/src/main/c"
                                "${tp_aeron_SOURCE_DIR}/aeron-driver/src/main/c")
    endif()
  endif()
endif()

if(TP_HAVE_AERON)
  message(STATUS "Aeron transport: ON (aeron:ipc, aeron:udp; embedded media driver: ${TP_HAVE_AERON_DRIVER})")
elseif(TENSORPOOL_WITH_AERON STREQUAL "ON")
  message(FATAL_ERROR "TENSORPOOL_WITH_AERON=ON but Aeron was not found: set AERON_ROOT to an Aeron "
                      "source tree, install Aeron, or use -DTENSORPOOL_AERON_DOWNLOAD=ON")
elseif(TENSORPOOL_WITH_AERON STREQUAL "OFF")
  message(STATUS "Aeron transport: OFF (TENSORPOOL_WITH_AERON=OFF); only tp:ipc")
else()
  message(STATUS "Aeron transport: Aeron not found (no AERON_ROOT, no installed Aeron); only tp:ipc")
endif()
