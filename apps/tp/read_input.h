/* Whole-file input for tp subcommands. */
#ifndef TP_APP_READ_INPUT_H
#define TP_APP_READ_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* Largest input accepted, so a wrong path (a device, a huge file) fails fast. */
#define TP_APP_INPUT_MAX ((size_t)1 << 30)

/* Read all of path ("-" = stdin) into a malloc'd buffer. -1 with tp_errmsg(). */
int tp_app_read_all(const char *path, uint8_t **out, size_t *len);

#endif
