/* Producer-side mapping of driver-created regions (D-2.2.a/b, D-3.c). */
#include "client_map.h"

#include "../util/prefetch.h"
#include "tensorpool/error.h"
#include "tensorpool/shm_layout.h"
#include "tensorpool/shm_region.h"
#include "tensorpool/shm_uri.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int tp_client_bases(const tp_client_context_t *ctx, tp_shm_bases_t *bases)
{
    const char *dirs[1] = {ctx->base_dir};
    return tp_shm_bases_init(bases, dirs, 1);
}

static int map_rw(tp_shm_region_t *r, const tp_shm_bases_t *bases, const char *uri_text, const tp_shm_region_expect_t *e)
{
    memset(r, 0, sizeof *r);
    tp_shm_uri_t uri; /* 4 KiB on the stack: attach time only */
    if (tp_shm_uri_parse(uri_text, strlen(uri_text), &uri) != 0) return -1;
    tp_shm_file_t f;
    if (tp_shm_path_open(bases, uri.path, uri.require_hugepages, &f) != 0) return -1;
    /* Re-open the very inode that passed the checks, now read-write. */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", f.fd);
    const int fd = open(proc, O_RDWR | O_CLOEXEC);
    const int err = errno;
    close(f.fd);
    if (fd < 0) return tp_err_set(TP_ERR_PERMISSION, "map '%s' read-write: %s", uri.path, strerror(err));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_dev != f.st.st_dev || st.st_ino != f.st.st_ino) {
        close(fd);
        return tp_err_set(TP_ERR_PERMISSION, "map '%s': file changed while opening", uri.path);
    }
    const uint64_t min = tp_shm_region_min_size(e->region_type, e->nslots, e->stride_bytes);
    if ((uint64_t)st.st_size < min) {
        close(fd);
        return tp_err_set(TP_ERR_TRUNCATED, "map '%s': %lld bytes, at least %llu needed", uri.path, (long long)st.st_size,
                          (unsigned long long)min);
    }
    /* What the layout needs, rounded up to the file system's block, as the
     * reader does: a neighbour may have grown the file (sparse) to gigabytes
     * before we map it, and MAP_POPULATE would fault all of it in. */
    const uint64_t blk = f.fs_block_size != 0 ? f.fs_block_size : 4096;
    uint64_t want = (min + blk - 1) / blk * blk;
    if (want > (uint64_t)st.st_size) want = (uint64_t)st.st_size;
    const size_t size = (size_t)want;
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    const int merr = errno;
    close(fd);
    if (base == MAP_FAILED) return tp_err_set(TP_ERR_IO, "map '%s': mmap: %s", uri.path, strerror(merr));
    r->base = base;
    r->size = size;
    r->writable = 1;
    if (tp_shm_region_guard(r) != 0) { /* before the first touch: the file may shrink any time */
        tp_shm_region_unmap(r);
        return tp_err_wrap("map '%s'", uri.path);
    }
    tp_superblock_t sb;
    tp_superblock_read(base, &sb);
    if (tp_superblock_check(&sb, e) != 0 || tp_shm_region_lost(r)) {
        if (tp_shm_region_lost(r)) tp_err_set(TP_ERR_TRUNCATED, "file truncated while mapping");
        tp_shm_region_unmap(r);
        return tp_err_wrap("map '%s'", uri.path);
    }
    return 0;
}

int tp_client_map_writer(tp_shm_writer_t *w, const tp_shm_bases_t *bases, const tp_lease_t *l, uint64_t now_ns)
{
    memset(w, 0, offsetof(tp_shm_writer_t, epoch_dir)); /* the path buffers are not used */
    w->prefetch_write = tp_prefetch_write_available();
    w->epoch_dir[0] = w->ring_path[0] = '\0';
    tp_shm_region_expect_t e = {
        .layout_version = l->layout_version,
        .epoch = l->epoch,
        .stream_id = l->stream_id,
        .region_type = TP_CONTROL_REGION_TYPE_HEADER_RING,
        .pool_id = 0,
        .nslots = l->header_nslots,
        .stride_bytes = 0,
    };
    if (map_rw(&w->ring, bases, l->ring_uri, &e) != 0) return tp_err_wrap("header ring");
    /* pools sorted by stride: claim takes the smallest that fits (W-9.c) */
    for (unsigned i = 0; i < l->npools; i++) {
        unsigned k = w->npools;
        while (k > 0 && w->stride[k - 1] > l->stride_bytes[i]) {
            w->stride[k] = w->stride[k - 1];
            w->pool_id[k] = w->pool_id[k - 1];
            w->pool[k] = w->pool[k - 1];
            k--;
        }
        e.region_type = TP_CONTROL_REGION_TYPE_PAYLOAD_POOL;
        e.pool_id = l->pool_id[i];
        e.stride_bytes = l->stride_bytes[i];
        if (map_rw(&w->pool[k], bases, l->pool_uri[i], &e) != 0) {
            /* close the gap so unmap sees a dense array */
            for (unsigned j = k; j < w->npools; j++) {
                w->pool[j] = w->pool[j + 1];
                w->stride[j] = w->stride[j + 1];
                w->pool_id[j] = w->pool_id[j + 1];
            }
            tp_err_wrap("pool %u", l->pool_id[i]);
            tp_client_unmap_writer(w);
            return -1;
        }
        w->stride[k] = l->stride_bytes[i];
        w->pool_id[k] = l->pool_id[i];
        w->npools++;
    }
    w->mask = l->header_nslots - 1;
    w->next_seq = 0; /* §5.3: seq restarts at 0 in a new epoch */
    tp_shm_writer_heartbeat(w, now_ns);
    return 0;
}

void tp_client_unmap_writer(tp_shm_writer_t *w)
{
    tp_shm_region_unmap(&w->ring);
    for (unsigned i = 0; i < w->npools; i++) tp_shm_region_unmap(&w->pool[i]);
    w->npools = 0;
}

int tp_client_writer_check(const tp_shm_writer_t *w, uint64_t epoch)
{
    for (unsigned i = 0; i <= w->npools; i++) {
        const tp_shm_region_t *r = i == 0 ? &w->ring : &w->pool[i - 1];
        const char *what = i == 0 ? "header ring" : "pool";
        const unsigned id = i == 0 ? 0u : w->pool_id[i - 1];
        if (tp_shm_region_lost(r)) return tp_shm_region_lost_error(what, id);
        tp_superblock_t sb;
        tp_superblock_read(r->base, &sb);
        if (sb.magic != TP_SHM_MAGIC || sb.epoch != epoch)
            return tp_err_set(TP_ERR_MALFORMED, "%s %u: superblock overwritten (magic or epoch)", what, id);
    }
    return 0;
}
