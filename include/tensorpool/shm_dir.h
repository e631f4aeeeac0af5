/* Canonical directory layout of region files (W-15.21a.3, docs/spec/wire.md §5.7):
 *
 *   <base>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/header.ring
 *   <base>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/<pool_id>.pool
 *
 * Producer side only: consumers never derive paths (W-15.21a.4.a).
 */
#ifndef TENSORPOOL_SHM_DIR_H
#define TENSORPOOL_SHM_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default shm_base_dir (docs/architecture.md "The transport"). */
#define TP_SHM_DEFAULT_BASE_DIR "/dev/shm/tensorpool"

/* Sanitize a user name (W-15.21a.3.b): every byte outside [A-Za-z0-9_-]
 * becomes '_'; an empty or NULL name becomes "unknown". Returns the length,
 * or -1 (TP_ERR_CAPACITY) if it does not fit in cap. */
TP_INTERNAL int tp_shm_user_sanitize(char *out, size_t cap, const char *user);

/* Effective user's name (getpwuid_r of geteuid, else the decimal uid),
 * sanitized. Returns the length or -1. Init-time only. */
TP_INTERNAL int tp_shm_user_effective(char *out, size_t cap);

/* 0 if ns is non-empty and only [A-Za-z0-9_-]; else -1 (TP_ERR_INVALID_ARG). */
TP_INTERNAL int tp_shm_namespace_check(const char *ns);

/* Epoch directory path. base must be absolute, user is sanitized here, ns
 * must pass tp_shm_namespace_check. Returns the length or -1. */
TP_INTERNAL int tp_shm_dir_epoch_path(char *out, size_t cap, const char *base, const char *user, const char *ns,
                                      uint32_t stream_id, uint64_t epoch);

/* "<epoch_dir>/header.ring" and "<epoch_dir>/<pool_id>.pool". */
TP_INTERNAL int tp_shm_dir_ring_path(char *out, size_t cap, const char *epoch_dir);
TP_INTERNAL int tp_shm_dir_pool_path(char *out, size_t cap, const char *epoch_dir, uint16_t pool_id);

/* Create epoch_dir and any missing parent, mode 0770 (umask may make it
 * stricter), never following a symlink on the way (mkdirat/openat with
 * O_NOFOLLOW from "/"). Existing components are accepted as they are. */
TP_INTERNAL int tp_shm_dir_create(const char *epoch_dir);

#ifdef __cplusplus
}
#endif
#endif
