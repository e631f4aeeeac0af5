#include "ipc_proc.h"

#include "tensorpool/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tp_ipc_proc_start_time(int pid, uint64_t *start_time)
{
    char path[64];
    char buf[1024];
    if (pid <= 0) return tp_err_set(TP_ERR_INVALID_ARG, "bad pid %d", pid);
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tp_err_set(TP_ERR_NOT_FOUND, "%s: %s", path, strerror(errno));
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return tp_err_set(TP_ERR_IO, "%s: short read", path);
    buf[n] = '\0';
    /* comm may hold spaces and parentheses: fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ') return tp_err_set(TP_ERR_MALFORMED, "%s: no comm field", path);
    p += 2;
    char state = *p;
    if (state == 'Z' || state == 'X') return tp_err_set(TP_ERR_NOT_FOUND, "pid %d is a zombie", pid);
    /* After ')' come fields 3 (state) .. ; starttime is field 22. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (p == NULL) return tp_err_set(TP_ERR_MALFORMED, "%s: too few fields", path);
        p++;
    }
    char *endp;
    errno = 0;
    unsigned long long v = strtoull(p, &endp, 10);
    if (errno != 0 || endp == p) return tp_err_set(TP_ERR_MALFORMED, "%s: bad starttime", path);
    *start_time = (uint64_t)v;
    return 0;
}

int tp_ipc_proc_alive(int pid, uint64_t start_time)
{
    uint64_t now_start;
    if (tp_ipc_proc_start_time(pid, &now_start) < 0) return 0;
    return now_start == start_time;
}
