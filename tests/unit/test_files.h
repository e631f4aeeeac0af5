/* Reading test input files (interop vectors). */
#ifndef TP_TEST_FILES_H
#define TP_TEST_FILES_H

#include <stdint.h>
#include <stdio.h>

/* Read path into buf (at most cap bytes); returns the length or -1. */
static inline long tp_test_read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return (long)n;
}

#endif
