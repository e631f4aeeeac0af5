/* Region files: create, map, validate (§3.1, §5.1 step 10, §5.7). Init-time. */
#include "tensorpool/shm_region.h"

#include "tensorpool/error.h"

#include "../util/dir_fd.h"
#include "../util/fault_guard.h"
#include "../util/file_reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

int tp_shm_geometry_check(int16_t region_type, uint32_t nslots, uint32_t stride_bytes)
{
    if (nslots == 0 || (nslots & (nslots - 1)) != 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "nslots %u is not a non-zero power of two (W-8.1.b)", nslots);
    if (region_type == TP_CONTROL_REGION_TYPE_PAYLOAD_POOL && (stride_bytes == 0 || stride_bytes % 64 != 0))
        return tp_err_set(TP_ERR_INVALID_ARG, "stride_bytes %u is not a non-zero multiple of 64 (W-15.22.e)",
                          stride_bytes);
    if (region_type != TP_CONTROL_REGION_TYPE_HEADER_RING && region_type != TP_CONTROL_REGION_TYPE_PAYLOAD_POOL)
        return tp_err_set(TP_ERR_INVALID_ARG, "region_type %d is not HEADER_RING or PAYLOAD_POOL", region_type);
    return 0;
}

uint64_t tp_shm_region_min_size(int16_t region_type, uint32_t nslots, uint32_t stride_bytes)
{
    if (region_type == TP_CONTROL_REGION_TYPE_HEADER_RING)
        return TP_SHM_SUPERBLOCK_SIZE + (uint64_t)nslots * TP_SHM_SLOT_BYTES;
    if (region_type == TP_CONTROL_REGION_TYPE_PAYLOAD_POOL)
        return TP_SHM_SUPERBLOCK_SIZE + (uint64_t)nslots * stride_bytes;
    return 0;
}

int tp_superblock_check(const tp_superblock_t *sb, const tp_shm_region_expect_t *e)
{
    if (sb->magic != TP_SHM_MAGIC)
        return tp_err_set(TP_ERR_MALFORMED, "superblock: bad magic 0x%016llx (W-7.1.e)", (unsigned long long)sb->magic);
    if (sb->layout_version != e->layout_version)
        return tp_err_set(TP_ERR_STATE, "superblock: layout_version %u, expected %u (W-15.1.a)", sb->layout_version,
                          e->layout_version);
    if (sb->epoch != e->epoch)
        return tp_err_set(TP_ERR_STATE, "superblock: epoch %llu, expected %llu (W-15.1.b)",
                          (unsigned long long)sb->epoch, (unsigned long long)e->epoch);
    if (sb->stream_id != e->stream_id)
        return tp_err_set(TP_ERR_STATE, "superblock: stream_id %u, expected %u", sb->stream_id, e->stream_id);
    if (sb->region_type != TP_CONTROL_REGION_TYPE_HEADER_RING && sb->region_type != TP_CONTROL_REGION_TYPE_PAYLOAD_POOL)
        return tp_err_set(TP_ERR_MALFORMED, "superblock: region_type %d is not a valid RegionType (W-15.8.a)",
                          sb->region_type);
    if (sb->region_type != e->region_type)
        return tp_err_set(TP_ERR_STATE, "superblock: region_type %d, expected %d (W-15.1.a)", sb->region_type,
                          e->region_type);
    if (sb->pool_id != e->pool_id)
        return tp_err_set(TP_ERR_STATE, "superblock: pool_id %u, expected %u (W-7.1.h)", sb->pool_id, e->pool_id);
    if (sb->nslots != e->nslots)
        return tp_err_set(TP_ERR_STATE, "superblock: nslots %u, expected %u (W-15.5.a)", sb->nslots, e->nslots);
    if (e->region_type == TP_CONTROL_REGION_TYPE_HEADER_RING && sb->slot_bytes != TP_SHM_SLOT_BYTES)
        return tp_err_set(TP_ERR_STATE, "superblock: slot_bytes %u, expected 256 (W-8.1.a, D-5)", sb->slot_bytes);
    if (e->region_type == TP_CONTROL_REGION_TYPE_PAYLOAD_POOL && sb->stride_bytes != e->stride_bytes)
        return tp_err_set(TP_ERR_STATE, "superblock: stride_bytes %u, expected %u (W-15.1.a, D-5)",
                          sb->stride_bytes, e->stride_bytes);
    return 0;
}

unsigned tp_superblock_problems(const tp_superblock_t *sb, uint64_t file_size, const char **why, unsigned max)
{
    unsigned n = 0;
#define PROBLEM(text)                                                            \
    do {                                                                         \
        if (n < max) why[n] = (text);                                            \
        n++;                                                                     \
    } while (0)
    if (sb->magic != TP_SHM_MAGIC) PROBLEM("magic is not 0x544F504C53484D31 (W-7.1.e, D-2)");
    if (sb->layout_version != TP_SHM_LAYOUT_VERSION) PROBLEM("layout_version is not 1 (D-9)");
    const int ring = sb->region_type == TP_CONTROL_REGION_TYPE_HEADER_RING;
    const int pool = sb->region_type == TP_CONTROL_REGION_TYPE_PAYLOAD_POOL;
    if (!ring && !pool) PROBLEM("region_type is neither HEADER_RING (1) nor PAYLOAD_POOL (2) (W-15.8.a)");
    if (sb->nslots == 0 || (sb->nslots & (sb->nslots - 1)) != 0)
        PROBLEM("nslots is not a non-zero power of two (W-8.1.b)");
    if (ring && sb->pool_id != 0) PROBLEM("pool_id is not 0 in a header ring (W-7.1.h)");
    if (ring && sb->slot_bytes != TP_SHM_SLOT_BYTES) PROBLEM("slot_bytes is not 256 in a header ring (W-8.1.a)");
    if (pool && (sb->stride_bytes == 0 || sb->stride_bytes % 64 != 0))
        PROBLEM("stride_bytes is not a non-zero multiple of 64 (W-15.22.e)");
    const uint64_t min = tp_shm_region_min_size(sb->region_type, sb->nslots, sb->stride_bytes);
    if ((ring || pool) && file_size < min) PROBLEM("file is shorter than 64 + nslots * slot size (§3.1, D-8)");
#undef PROBLEM
    return n;
}

int tp_shm_activity_fresh(uint64_t activity_ns, uint64_t now_ns, uint64_t window_ns)
{
    if (activity_ns == 0) return 0; /* D-10: never written counts as stale */
    const uint64_t age = now_ns > activity_ns ? now_ns - activity_ns : 0;
    return age <= window_ns;
}

/* Create the file `name` in the directory dirfd (path names it in errors). */
static int region_create_at(tp_shm_region_t *r, int dirfd, const char *name, const char *path,
                            const tp_superblock_t *sb, unsigned flags)
{
    const int require_hugepages = (flags & TP_SHM_CREATE_REQUIRE_HUGEPAGES) != 0;
    const int prefault = (flags & TP_SHM_CREATE_NO_PREFAULT) == 0;
    const int populate = prefault && (flags & TP_SHM_CREATE_NO_POPULATE) == 0;
    memset(r, 0, sizeof *r);
    if (tp_shm_geometry_check(sb->region_type, sb->nslots, sb->stride_bytes) != 0)
        return tp_err_wrap("create '%s'", path);
    /* never through a symlink, never an existing file that is not ours */
    const int fd = tp_dir_open_file(dirfd, name, O_RDWR, 0660, TP_DIR_CREATE | TP_DIR_TRUNCATE);
    if (fd < 0) return tp_err_wrap("create '%s'", path);
    uint64_t size = tp_shm_region_min_size(sb->region_type, sb->nslots, sb->stride_bytes);
    struct statfs sfs;
    const char *why = NULL;
    int e = 0;
    if (fstatfs(fd, &sfs) != 0) {
        why = "fstatfs";
        e = errno;
    } else if ((uint32_t)sfs.f_type == TP_HUGETLBFS_MAGIC) {
        const uint64_t hp = (uint64_t)sfs.f_bsize; /* §5.7: round up to the hugepage size */
        if (hp > 0) size = (size + hp - 1) / hp * hp;
    } else if (require_hugepages) {
        close(fd);
        tp_dir_unlink_file(dirfd, name);
        return tp_err_set(TP_ERR_UNSUPPORTED, "create '%s': hugepages required but not on hugetlbfs (W-15.22.c)", path);
    }
    if (why == NULL && size > (uint64_t)SIZE_MAX) { why = "size"; e = EFBIG; }
    if (why == NULL && ftruncate(fd, (off_t)size) != 0) { why = "ftruncate"; e = errno; }
    if (why == NULL && prefault) {
        char what[TP_SHM_PATH_MAX + 16];
        snprintf(what, sizeof what, "create '%s'", path);
        if (tp_file_reserve(fd, size, what) != 0) {
            close(fd);
            tp_dir_unlink_file(dirfd, name);
            return -1;
        }
    }
    void *base = MAP_FAILED;
    if (why == NULL) {
        base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
        if (base == MAP_FAILED) { why = "mmap"; e = errno; }
    }
    if (why == NULL) {
        r->base = base;
        r->size = (size_t)size;
        r->writable = 1;
        if (tp_shm_region_guard(r) != 0) { why = "fault guard"; e = ENOSPC; }
    }
    if (why == NULL) {
        tp_superblock_write(base, sb);
        if (fsync(fd) != 0) { why = "fsync"; e = errno; } /* W-15.14.b: before any announce */
    }
    close(fd);
    if (why != NULL) {
        tp_shm_region_unmap(r);
        tp_dir_unlink_file(dirfd, name);
        return tp_err_set(TP_ERR_IO, "create '%s': %s: %s", path, why, strerror(e));
    }
    return 0;
}

int tp_shm_region_create(tp_shm_region_t *r, const char *path, const tp_superblock_t *sb, unsigned flags)
{
    memset(r, 0, sizeof *r);
    const char *name;
    const int dirfd = tp_dir_open_parent(path, &name);
    if (dirfd < 0) return tp_err_wrap("create '%s'", path != NULL ? path : "(null)");
    const int rc = region_create_at(r, dirfd, name, path, sb, flags);
    close(dirfd);
    return rc;
}

int tp_shm_region_map(tp_shm_region_t *r, const tp_shm_bases_t *bases, const tp_shm_uri_t *uri,
                      const tp_shm_region_expect_t *e, uint64_t now_ns, uint64_t window_ns)
{
    memset(r, 0, sizeof *r);
    if (tp_shm_geometry_check(e->region_type, e->nslots, e->stride_bytes) != 0) return -1;
    tp_shm_file_t f;
    if (tp_shm_path_open(bases, uri->path, uri->require_hugepages, &f) != 0) return -1;
    const uint64_t min = tp_shm_region_min_size(e->region_type, e->nslots, e->stride_bytes);
    if ((uint64_t)f.st.st_size < min || (uint64_t)f.st.st_size > (uint64_t)SIZE_MAX) {
        close(f.fd); /* D-8: a short file would SIGBUS on access */
        return tp_err_set(TP_ERR_TRUNCATED, "map '%s': file is %lld bytes, at least %llu needed (§3.1, D-8)",
                          uri->path, (long long)f.st.st_size, (unsigned long long)min);
    }
    /* Map what the layout needs, rounded up to the file system's block (the
     * hugepage size on hugetlbfs), not the whole file: a huge sparse file in
     * the base must not make us map and populate gigabytes. */
    const uint64_t blk = f.fs_block_size != 0 ? f.fs_block_size : 4096;
    uint64_t want = (min + blk - 1) / blk * blk;
    if (want > (uint64_t)f.st.st_size) want = (uint64_t)f.st.st_size;
    const size_t size = (size_t)want;
    void *base = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, f.fd, 0);
    const int err = errno;
    close(f.fd);
    if (base == MAP_FAILED) return tp_err_set(TP_ERR_IO, "map '%s': mmap: %s", uri->path, strerror(err));
    r->base = base;
    r->size = size;
    if (tp_shm_region_guard(r) != 0) { /* before the first read: the file may shrink any time */
        tp_shm_region_unmap(r);
        return tp_err_wrap("map '%s'", uri->path);
    }
    tp_superblock_t sb;
    tp_superblock_read(base, &sb);
    sb.activity_timestamp_ns = tp_superblock_activity_load(base);
    if (tp_superblock_check(&sb, e) != 0) {
        tp_shm_region_unmap(r);
        return tp_err_wrap("map '%s'", uri->path);
    }
    if (tp_shm_region_lost(r)) { /* shrank while we looked: what we read was zeros */
        tp_shm_region_unmap(r);
        return tp_err_set(TP_ERR_TRUNCATED, "map '%s': file truncated while mapping", uri->path);
    }
    if (window_ns != 0 && !tp_shm_activity_fresh(sb.activity_timestamp_ns, now_ns, window_ns)) {
        tp_shm_region_unmap(r);
        return tp_err_set(TP_ERR_STATE, "map '%s': activity timestamp %llu is stale at %llu (W-15.1.c, D-10)",
                          uri->path, (unsigned long long)sb.activity_timestamp_ns, (unsigned long long)now_ns);
    }
    r->writable = 0;
    return 0;
}

int tp_shm_region_guard(tp_shm_region_t *r)
{
    if (r->guard != 0) return 0;
    const int h = tp_fault_guard_add(r->base, r->size, r->writable ? PROT_READ | PROT_WRITE : PROT_READ);
    if (h < 0) return -1;
    r->guard = h;
    return 0;
}

int tp_shm_region_lost(const tp_shm_region_t *r)
{
    return r->guard > 0 && tp_fault_guard_probe(r->guard) != TP_FAULT_NONE;
}

int tp_shm_region_lost_error(const char *what, unsigned id)
{
    return tp_err_set(TP_ERR_TRUNCATED, "%s %u: file truncated by another process, mapping lost", what, id);
}

void tp_shm_region_unmap(tp_shm_region_t *r)
{
    tp_fault_guard_remove(r->guard);
    r->guard = 0;
    if (r->base != NULL) munmap(r->base, r->size);
    r->base = NULL;
    r->size = 0;
}
