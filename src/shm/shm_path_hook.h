/* Test seam for the TOCTOU scenario (docs/spec/wire.md §7 #38): called by
 * tp_shm_path_open after the path was stat'ed and before it is opened, so a
 * test can swap the file in between. Never set in production code. */
#ifndef TP_SHM_PATH_HOOK_H
#define TP_SHM_PATH_HOOK_H

typedef void (*tp_shm_path_hook_fn)(const char *canonical_path, void *arg);

void tp_shm_path_set_test_hook(tp_shm_path_hook_fn fn, void *arg);

#endif
