/* The library's version, fixed when it was built (tensorpool/version.h is
 * generated from the project version in CMakeLists.txt). */
#include "tensorpool/version.h"

const char *tp_version(void) { return TENSORPOOL_VERSION_STRING; }

unsigned tp_version_number(void) { return TENSORPOOL_VERSION_NUMBER; }
