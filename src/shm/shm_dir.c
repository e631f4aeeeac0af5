/* Producer-side canonical layout (W-15.21a.3, §5.7). Init-time code. */
#include "tensorpool/shm_dir.h"

#include "../util/dir_fd.h"

#include "tensorpool/error.h"
#include "tensorpool/shm_path.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int name_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int tp_shm_user_sanitize(char *out, size_t cap, const char *user)
{
    if (user == NULL || user[0] == '\0') user = "unknown";
    const size_t n = strlen(user);
    if (out == NULL || n + 1 > cap) return tp_err_set(TP_ERR_CAPACITY, "user name: buffer too small");
    for (size_t i = 0; i < n; i++) out[i] = name_char_ok(user[i]) ? user[i] : '_';
    out[n] = '\0';
    return (int)n;
}

int tp_shm_user_effective(char *out, size_t cap)
{
    char buf[1024];
    struct passwd pw, *res = NULL;
    const uid_t uid = geteuid();
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res != NULL)
        return tp_shm_user_sanitize(out, cap, res->pw_name);
    char num[24];
    snprintf(num, sizeof num, "%lu", (unsigned long)uid);
    return tp_shm_user_sanitize(out, cap, num);
}

int tp_shm_namespace_check(const char *ns)
{
    if (ns == NULL || ns[0] == '\0') return tp_err_set(TP_ERR_INVALID_ARG, "namespace: empty (W-15.21a.3.b)");
    for (const char *p = ns; *p; p++)
        if (!name_char_ok(*p))
            return tp_err_set(TP_ERR_INVALID_ARG, "namespace '%s': only [A-Za-z0-9_-] allowed (§5.7)", ns);
    return 0;
}

static int fit(int n, size_t cap)
{
    if (n < 0 || (size_t)n >= cap) return tp_err_set(TP_ERR_CAPACITY, "shm path: buffer too small");
    return n;
}

int tp_shm_dir_epoch_path(char *out, size_t cap, const char *base, const char *user, const char *ns,
                          uint32_t stream_id, uint64_t epoch)
{
    if (base == NULL || base[0] != '/')
        return tp_err_set(TP_ERR_INVALID_ARG, "shm_base_dir must be absolute (§5.7)");
    if (tp_shm_namespace_check(ns) != 0) return -1;
    char u[256];
    if (tp_shm_user_sanitize(u, sizeof u, user) < 0) return -1;
    const size_t bl = strlen(base);
    const int strip = bl > 1 && base[bl - 1] == '/'; /* avoid "//" in the announced path (D-26) */
    return fit(snprintf(out, cap, "%.*s/tensorpool-%s/%s/%lu/%llu", (int)(bl - (size_t)strip), base, u, ns,
                        (unsigned long)stream_id, (unsigned long long)epoch),
               cap);
}

int tp_shm_dir_ring_path(char *out, size_t cap, const char *epoch_dir)
{
    return fit(snprintf(out, cap, "%s/header.ring", epoch_dir), cap);
}

int tp_shm_dir_pool_path(char *out, size_t cap, const char *epoch_dir, uint16_t pool_id)
{
    return fit(snprintf(out, cap, "%s/%u.pool", epoch_dir, (unsigned)pool_id), cap);
}

int tp_shm_dir_create(const char *epoch_dir)
{
    if (epoch_dir == NULL || epoch_dir[0] != '/')
        return tp_err_set(TP_ERR_INVALID_ARG, "shm dir: path must be absolute");
    const int fd = tp_dir_make(AT_FDCWD, epoch_dir, 0770, 0, NULL);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}
