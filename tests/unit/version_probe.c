/* Prints the version the headers give at compile time and the one the shared
 * library reports at run time, for version_test.py to compare. */
#include "tensorpool/version.h"

#include <stdio.h>

int main(void)
{
    printf("macro_string %s\n", TENSORPOOL_VERSION_STRING);
    printf("macro_parts %d.%d.%d\n", TENSORPOOL_VERSION_MAJOR, TENSORPOOL_VERSION_MINOR, TENSORPOOL_VERSION_PATCH);
    printf("macro_number %d\n", TENSORPOOL_VERSION_NUMBER);
    printf("library_string %s\n", tp_version());
    printf("library_number %u\n", tp_version_number());
    return 0;
}
