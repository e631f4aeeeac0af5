/* Containment by construction: every file-system action on our directories
 * goes through a directory fd opened without following any symlink, and
 * names one entry of that directory. Internal to the library.
 *
 * The rule (issue 14, docs/containment.md):
 *  - A directory is reached from "/" (absolute, canonical paths) or from a
 *    directory fd we hold, one component at a time with
 *    O_NOFOLLOW|O_DIRECTORY, or in one openat2() call with
 *    RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS; "." and ".." are refused. A
 *    symlink anywhere fails the open (ELOOP/ENOTDIR): it is never followed,
 *    however often a neighbour swaps it in and out.
 *  - Files are created, opened, truncated, chmod'ed and removed only by
 *    name inside such an fd (openat, fchmod on the fd we opened, unlinkat,
 *    renameat, fstatat with AT_SYMLINK_NOFOLLOW).
 *  - A file we reuse or remove is first checked to be what we create: a
 *    regular file owned by the effective user with one link. A symlink is
 *    removed as a link, never followed; a directory is emptied through its
 *    own fd (fdopendir + unlinkat), never through a path, and a directory
 *    inside it is not entered.
 * Ancestors of the configured base dir are trusted as configured: callers
 * resolve the base with realpath once and walk the canonical path.
 */
#ifndef TP_UTIL_DIR_FD_H
#define TP_UTIL_DIR_FD_H

#include <sys/types.h>

/* Options of tp_dir_make and tp_dir_open_file. */
#define TP_DIR_EXACT_MODE 1u /* tp_dir_make: fchmod each directory it creates to mode (no umask) */
#define TP_DIR_CREATE 2u     /* tp_dir_open_file: create the file if missing (mode under the umask) */
#define TP_DIR_TRUNCATE 4u   /* tp_dir_open_file: truncate to 0 bytes after the checks */

/* Open the directory at path without following any symlink: absolute paths
 * from "/", relative ones beneath dirfd (never above it). "." and ".."
 * components are refused (EINVAL). Returns an O_RDONLY|O_DIRECTORY|O_CLOEXEC
 * fd, or -1 with errno set (ELOOP/ENOTDIR for a symlink or non-directory)
 * and the error (TP_ERR_PERMISSION, TP_ERR_NOT_FOUND, TP_ERR_INVALID_ARG or
 * TP_ERR_IO) naming path. */
int tp_dir_open(int dirfd, const char *path);

/* Like tp_dir_open, creating every missing directory on the way (mkdirat,
 * mode under the umask, exactly mode with TP_DIR_EXACT_MODE). An existing
 * directory is accepted as it is. *created (may be NULL) is set to 1 when
 * the last component was created by this call. */
int tp_dir_make(int dirfd, const char *path, mode_t mode, unsigned opts, int *created);

/* Open the parent directory of the absolute path (tp_dir_open) and point
 * *name at its last component. -1 if path has no last component. */
int tp_dir_open_parent(const char *path, const char **name);

/* Open the regular file name (one component) in dirfd with flags
 * (O_RDONLY/O_WRONLY/O_RDWR; O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC are added) and,
 * with TP_DIR_CREATE, create it with mode. The opened file must be a regular
 * file; one that already existed must also be owned by the effective user
 * and have exactly one link (a hard link could bring in a file from outside
 * the base). TP_DIR_TRUNCATE truncates after those checks. fd or -1. */
int tp_dir_open_file(int dirfd, const char *name, int flags, mode_t mode, unsigned opts);

/* Remove name from dirfd if it is a regular file owned by the effective
 * user, or a symlink (the link goes, its target is never touched). 0 when
 * removed; -1 otherwise (errno ENOENT if absent, EPERM if it is something
 * else, which stays). */
int tp_dir_unlink_file(int dirfd, const char *name);

/* Remove the directory name in dirfd and the files in it, never following
 * a symlink: a symlink at name is removed as a link; a directory must be
 * owned by the effective user; it is emptied through its own fd with
 * tp_dir_unlink_file (a directory or foreign file inside stays, and so does
 * the directory then). 0 when name is gone, -1 otherwise. */
int tp_dir_remove_tree(int dirfd, const char *name);

/* fchmod(fd, mode) after checking the fd is owned by the effective user
 * (so even a root driver never changes the mode of a neighbour's file).
 * 0 or -1 (TP_ERR_PERMISSION / TP_ERR_IO naming what). */
int tp_dir_fchmod_own(int fd, mode_t mode, const char *what);

/* 0 if the directory fd is owned by the effective user and not writable by
 * others. A directory below the base that another user made first (the base
 * may be writable by the group) would let that user, or anybody when it is
 * world-writable, change our entries at will: -1 (TP_ERR_PERMISSION naming
 * what and the owner). */
int tp_dir_check_own(int fd, const char *what);

/* Test seam: 1 makes tp_dir_open/tp_dir_make use the per-component walk
 * even where openat2 exists, so tests cover both. */
void tp_dir_force_walk(int on);

#endif
