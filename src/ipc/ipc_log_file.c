#include "ipc_log_file.h"

#include "ipc_dir.h"
#include "ipc_proc.h"
#include "tensorpool/clock.h"
#include "tensorpool/error.h"
#include "../util/fault_guard.h"
#include "../util/file_reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static _Atomic uint64_t log_counter;

/* Parse a decimal number that ends at `stop`; returns the char after it or NULL. */
static const char *parse_u64(const char *s, char stop, uint64_t *out)
{
    if (*s < '0' || *s > '9') return NULL;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10) return NULL;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (*s != stop) return NULL;
    *out = v;
    return stop ? s + 1 : s;
}

int tp_ipc_log_name_parse(const char *name, tp_ipc_log_name_t *out)
{
    uint64_t stream = 0, pid = 0;
    const char *p = name;
    memset(out, 0, sizeof *out);
    if (strncmp(p, ".tmp-", 5) == 0) {
        out->is_tmp = 1;
        p += 5;
    } else {
        p = parse_u64(p, '-', &stream);
        if (p == NULL || stream > UINT32_MAX) return -1;
    }
    p = parse_u64(p, '-', &pid);
    if (p == NULL || pid == 0 || pid > INT32_MAX) return -1;
    p = parse_u64(p, '-', &out->start_time);
    if (p == NULL) return -1;
    if (out->is_tmp) {
        p = parse_u64(p, '\0', &out->n);
    } else {
        p = parse_u64(p, '.', &out->n);
        if (p != NULL && strcmp(p, "log") != 0) p = NULL;
    }
    if (p == NULL) return -1;
    out->stream = (uint32_t)stream;
    out->pid = (int)pid;
    return 0;
}

int tp_ipc_self_start_time(uint64_t *start_time)
{
    static _Atomic uint64_t cached;
    static _Atomic int cached_pid;
    int pid = (int)getpid();
    /* Re-read after fork: the child is another process with another start time. */
    if (atomic_load(&cached_pid) == pid) {
        *start_time = atomic_load(&cached);
        return 0;
    }
    uint64_t st;
    if (tp_ipc_proc_start_time(pid, &st) < 0) return tp_err_wrap("reading own start time");
    atomic_store(&cached, st);
    atomic_store(&cached_pid, pid);
    *start_time = st;
    return 0;
}

int tp_ipc_log_meta_validate(const tp_ipc_log_meta_t *m, uint64_t file_size)
{
    if (m->magic != TP_IPC_LOG_MAGIC) return tp_err_set(TP_ERR_MALFORMED, "not an ipc log (bad magic)");
    if (m->version != TP_IPC_LOG_VERSION)
        return tp_err_set(TP_ERR_UNSUPPORTED, "ipc log version %u, expected %u", m->version, TP_IPC_LOG_VERSION);
    if (m->header_bytes != TP_IPC_LOG_HEADER_BYTES)
        return tp_err_set(TP_ERR_MALFORMED, "ipc log header_bytes %u", m->header_bytes);
    uint32_t cap = m->capacity;
    if (cap < TP_IPC_LOG_MIN_CAPACITY || cap > TP_IPC_LOG_MAX_CAPACITY || (cap & (cap - 1)) != 0)
        return tp_err_set(TP_ERR_MALFORMED, "ipc log capacity %u is not a power of two in range", cap);
    if (m->max_message == 0 || m->max_message > cap / 4)
        return tp_err_set(TP_ERR_MALFORMED, "ipc log max_message %u out of range", m->max_message);
    if (m->flags & ~(uint32_t)TP_IPC_LOG_LOSSLESS) return tp_err_set(TP_ERR_MALFORMED, "ipc log flags %#x", m->flags);
    if (file_size != tp_ipc_log_file_bytes(cap, m->flags))
        return tp_err_set(TP_ERR_TRUNCATED, "ipc log is %llu bytes, header says %llu", (unsigned long long)file_size,
                          (unsigned long long)tp_ipc_log_file_bytes(cap, m->flags));
    if (m->pid <= 0) return tp_err_set(TP_ERR_MALFORMED, "ipc log pid %d", m->pid);
    return 0;
}

int tp_ipc_log_create(int dirfd, int32_t stream_id, uint32_t capacity, uint32_t max_message,
                      tp_ipc_log_writer_t *w, void **map, size_t *map_len, char *name, size_t name_len)
{
    return tp_ipc_log_create_flags(dirfd, stream_id, capacity, max_message, 0, w, map, map_len, name, name_len);
}

int tp_ipc_log_create_flags(int dirfd, int32_t stream_id, uint32_t capacity, uint32_t max_message, uint32_t flags,
                            tp_ipc_log_writer_t *w, void **map, size_t *map_len, char *name, size_t name_len)
{
    uint64_t start = 0; /* set by the call below; gcc -O2 cannot see that */
    if (tp_ipc_self_start_time(&start) < 0) return -1;
    int pid = (int)getpid();
    uint64_t n = atomic_fetch_add(&log_counter, 1);
    char tmp[TP_IPC_LOG_NAME_MAX];
    snprintf(tmp, sizeof tmp, ".tmp-%d-%llu-%llu", pid, (unsigned long long)start, (unsigned long long)n);
    int rc = snprintf(name, name_len, "%u-%d-%llu-%llu.log", (uint32_t)stream_id, pid, (unsigned long long)start,
                      (unsigned long long)n);
    if (rc < 0 || (size_t)rc >= name_len) return tp_err_set(TP_ERR_CAPACITY, "log name buffer too small");

    int fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, TP_IPC_FILE_MODE);
    if (fd < 0) return tp_err_set(TP_ERR_IO, "create ipc log %s: %s", tmp, strerror(errno));
    size_t len = (size_t)tp_ipc_log_file_bytes(capacity, flags);
    if (fchmod(fd, TP_IPC_FILE_MODE) != 0 || ftruncate(fd, (off_t)len) != 0) {
        int err = errno;
        close(fd);
        unlinkat(dirfd, tmp, 0);
        return tp_err_set(TP_ERR_IO, "size ipc log %s: %s", tmp, strerror(err));
    }
    char what[TP_IPC_LOG_NAME_MAX + 16];
    snprintf(what, sizeof what, "create ipc log %s", tmp);
    if (tp_file_reserve(fd, len, what) != 0) {
        close(fd);
        unlinkat(dirfd, tmp, 0);
        return -1;
    }
    /* MAP_POPULATE: fault the pages in now, not on the first lap of messages. */
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    int err = errno;
    close(fd);
    if (m == MAP_FAILED) {
        unlinkat(dirfd, tmp, 0);
        return tp_err_set(TP_ERR_IO, "mmap ipc log %s: %s", tmp, strerror(err));
    }
    const int guard = tp_fault_guard_add(m, len, PROT_READ | PROT_WRITE); /* before the first store */
    if (guard < 0) {
        munmap(m, len);
        unlinkat(dirfd, tmp, 0);
        return tp_err_wrap("create ipc log %s", tmp);
    }
    tp_ipc_log_meta_t *meta = m;
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id)
        id = ((uint64_t)pid << 32) ^ (uint64_t)tp_clock_monotonic_ns() ^ n;
    meta->version = TP_IPC_LOG_VERSION;
    meta->header_bytes = TP_IPC_LOG_HEADER_BYTES;
    meta->capacity = capacity;
    meta->max_message = max_message;
    meta->stream_id = stream_id;
    meta->pid = pid;
    meta->start_time = start;
    meta->log_id = id;
    meta->created_ns = tp_clock_realtime_ns();
    meta->flags = flags;
    atomic_store_explicit(&meta->closed_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&meta->tail_intent, 0, memory_order_relaxed);
    atomic_store_explicit(&meta->tail, 0, memory_order_relaxed);
    meta->magic = TP_IPC_LOG_MAGIC;
    if (renameat(dirfd, tmp, dirfd, name) != 0) {
        err = errno;
        tp_ipc_log_unmap(m, len, guard);
        unlinkat(dirfd, tmp, 0);
        return tp_err_set(TP_ERR_IO, "publish ipc log %s: %s", name, strerror(err));
    }
    memset(w, 0, sizeof *w);
    w->meta = meta;
    w->ring = (uint8_t *)m + TP_IPC_LOG_HEADER_BYTES;
    w->capacity = capacity;
    w->mask = capacity - 1;
    w->max_message = max_message;
    w->prefetch_write = tp_prefetch_write_available();
    w->guard = guard;
    if (flags & TP_IPC_LOG_LOSSLESS) {
        w->readers = (tp_ipc_log_readers_t *)(void *)((uint8_t *)m + tp_ipc_log_readers_offset(capacity));
        w->limit = UINT64_MAX; /* no reader yet; generation 0 */
    }
    *map = m;
    *map_len = len;
    return 0;
}

static int open_log_fd(int dirfd, const char *name, uint64_t *size, uint32_t *owner_uid)
{
    /* O_NONBLOCK: a FIFO planted under a log name must not hang us. */
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return tp_err_set(errno == ENOENT ? TP_ERR_NOT_FOUND : TP_ERR_IO, "open ipc log %s: %s", name,
                                  strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tp_err_set(TP_ERR_PERMISSION, "ipc log %s is not a regular file", name);
    }
    *size = (uint64_t)st.st_size;
    if (owner_uid != NULL) *owner_uid = (uint32_t)st.st_uid;
    return fd;
}

int tp_ipc_log_mark_closed(int dirfd, const char *name, int64_t closed_ns)
{
    int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return tp_err_set(TP_ERR_IO, "open ipc log %s: %s", name, strerror(errno));
    struct stat st;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        n = pwrite(fd, &closed_ns, sizeof closed_ns, (off_t)offsetof(tp_ipc_log_meta_t, closed_ns));
    close(fd);
    if (n != (ssize_t)sizeof closed_ns) return tp_err_set(TP_ERR_IO, "mark ipc log %s closed failed", name);
    return 0;
}

int tp_ipc_log_read_meta(int dirfd, const char *name, tp_ipc_log_meta_t *out)
{
    uint64_t size;
    int fd = open_log_fd(dirfd, name, &size, NULL);
    if (fd < 0) return -1;
    ssize_t n = pread(fd, out, sizeof *out, 0);
    close(fd);
    if (n != (ssize_t)sizeof *out) return tp_err_set(TP_ERR_TRUNCATED, "ipc log %s: short header", name);
    if (tp_ipc_log_meta_validate(out, size) < 0) return tp_err_wrap("ipc log %s", name);
    return 0;
}

int tp_ipc_log_open_reader(int dirfd, const char *name, int32_t stream_id, uint32_t max_message_limit,
                           tp_ipc_log_reader_t *r, void **map, size_t *map_len)
{
    uint64_t size;
    uint32_t owner_uid = 0;
    int fd = open_log_fd(dirfd, name, &size, &owner_uid);
    if (fd < 0) return -1;
    if (size < TP_IPC_LOG_HEADER_BYTES) {
        close(fd);
        return tp_err_set(TP_ERR_TRUNCATED, "ipc log %s: %llu bytes", name, (unsigned long long)size);
    }
    /* Header and size are checked before anything is mapped: a neighbour's
     * huge sparse file under a log name must not make us map and populate
     * gigabytes. A valid log is at most header + TP_IPC_LOG_MAX_CAPACITY. */
    tp_ipc_log_meta_t head;
    if (pread(fd, &head, sizeof head, 0) != (ssize_t)sizeof head) {
        close(fd);
        return tp_err_set(TP_ERR_TRUNCATED, "ipc log %s: short header", name);
    }
    if (tp_ipc_log_meta_validate(&head, size) < 0) {
        close(fd);
        return tp_err_wrap("ipc log %s", name);
    }
    void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    int err = errno;
    struct stat st;
    const int have_st = fstat(fd, &st) == 0;
    close(fd);
    if (m == MAP_FAILED) return tp_err_set(TP_ERR_IO, "mmap ipc log %s: %s", name, strerror(err));
    const int guard = tp_fault_guard_add(m, (size_t)size, PROT_READ); /* before the first read */
    if (guard < 0) {
        munmap(m, (size_t)size);
        return tp_err_wrap("ipc log %s", name);
    }
    /* Validate a private copy: the mapping can change under us. */
    tp_ipc_log_meta_t meta;
    memcpy(&meta, m, sizeof meta);
    if (tp_ipc_log_meta_validate(&meta, size) < 0 || tp_fault_guard_probe(guard) != TP_FAULT_NONE) {
        if (tp_fault_guard_lost(guard) != TP_FAULT_NONE) tp_err_set(TP_ERR_TRUNCATED, "truncated while mapping");
        tp_ipc_log_unmap(m, (size_t)size, guard);
        return tp_err_wrap("ipc log %s", name);
    }
    if (meta.stream_id != stream_id) {
        tp_ipc_log_unmap(m, (size_t)size, guard);
        return tp_err_set(TP_ERR_MALFORMED, "ipc log %s: stream %d, name says %d", name, meta.stream_id, stream_id);
    }
    if (meta.max_message > max_message_limit) {
        tp_ipc_log_unmap(m, (size_t)size, guard);
        return tp_err_set(TP_ERR_CAPACITY, "ipc log %s: max message %u exceeds this subscription's %u", name,
                          meta.max_message, max_message_limit);
    }
    memset(r, 0, sizeof *r);
    r->meta = m;
    r->ring = (const uint8_t *)m + TP_IPC_LOG_HEADER_BYTES;
    r->capacity = meta.capacity;
    r->mask = meta.capacity - 1;
    r->max_message = meta.max_message;
    r->owner_uid = owner_uid;
    r->stream_id = meta.stream_id;
    r->log_id = meta.log_id;
    r->guard = guard;
    r->readers_guard = -1;
    if ((meta.flags & TP_IPC_LOG_LOSSLESS) && have_st)
        tp_ipc_log_reader_map_readers(r, dirfd, name, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    *map = m;
    *map_len = (size_t)size;
    return 0;
}

void tp_ipc_log_unmap(void *map, size_t map_len, int guard)
{
    tp_fault_guard_remove(guard);
    if (map != NULL) munmap(map, map_len);
}

const char *tp_ipc_log_header_problem(const tp_ipc_log_meta_t *live, const tp_ipc_log_meta_t *identity, int guard)
{
    if (tp_fault_guard_probe(guard) != TP_FAULT_NONE) return "file truncated by another process, mapping lost";
    uint8_t now[offsetof(tp_ipc_log_meta_t, closed_ns)];
    memcpy(now, live, sizeof now);
    if (memcmp(now, identity, sizeof now) != 0) return "header overwritten (identity changed)";
    const uint64_t tail = atomic_load_explicit(&live->tail, memory_order_acquire);
    const uint64_t intent = atomic_load_explicit(&live->tail_intent, memory_order_acquire);
    /* the writer keeps tail <= tail_intent <= tail + capacity (it raises the
     * intent by at most a record plus a sixteenth of the ring ahead) */
    if (tail > intent || intent - tail > identity->capacity) return "header overwritten (tail and tail_intent disagree)";
    return NULL;
}
