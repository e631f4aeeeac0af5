/* Splitting an absolute path into its components, for the walks that open
 * or create directories one openat() at a time without following symlinks
 * (shm_path.c, shm_dir.c). Internal to the shm layer. */
#ifndef TP_SHM_PATH_WALK_H
#define TP_SHM_PATH_WALK_H

#include <limits.h>
#include <string.h>

/* Copy the next component at *p into comp and advance *p past it. Returns 1
 * with *last set when a component was taken, 0 at the end of the path, -1 if
 * the component is longer than NAME_MAX. Repeated '/' are skipped. */
static inline int tp_path_next(const char **p, char comp[NAME_MAX + 1], int *last)
{
    const char *s = *p;
    while (*s == '/') s++;
    if (*s == '\0') return 0;
    const char *end = strchr(s, '/');
    const size_t n = end ? (size_t)(end - s) : strlen(s);
    if (n > NAME_MAX) return -1;
    memcpy(comp, s, n);
    comp[n] = '\0';
    s += n;
    *p = s;
    while (*s == '/') s++;
    *last = *s == '\0';
    return 1;
}

#endif
