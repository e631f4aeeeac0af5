/* One SHM region file (header ring or payload pool): producer-side create,
 * consumer-side map with every rejection rule of docs/spec/wire.md §3.1, §5.1 step 10
 * and §5.7, and superblock validation (W-7, W-15.1). */
#ifndef TENSORPOOL_SHM_REGION_H
#define TENSORPOOL_SHM_REGION_H

#include "tensorpool/shm_layout.h"
#include "tensorpool/shm_path.h"
#include "tensorpool/shm_uri.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most payload pools one data source may have (size classes, W-9.b). */
#define TP_SHM_MAX_POOLS 8

/* A mapped region. base is page-aligned, so slot bases are 64-byte aligned. */
typedef struct tp_shm_region_s {
    uint8_t *base;
    size_t size; /* mapped bytes: >= the §3.1 minimum, rounded up to the fs block, <= the file size */
    int writable;
    int guard; /* fault guard handle (src/util/fault_guard.h), 0 = none */
} tp_shm_region_t;

/* What a consumer expects of a region, taken from the accepted announce. */
typedef struct tp_shm_region_expect_s {
    uint32_t layout_version;
    uint64_t epoch;
    uint32_t stream_id;
    int16_t region_type;   /* TP_CONTROL_REGION_TYPE_HEADER_RING or TP_CONTROL_REGION_TYPE_PAYLOAD_POOL */
    uint16_t pool_id;      /* 0 for the ring (W-7.1.h) */
    uint32_t nslots;       /* header_nslots, for every region (W-15.5.a) */
    uint32_t stride_bytes; /* pools only (D-5) */
} tp_shm_region_expect_t;

/* 0 if nslots is a non-zero power of two (W-8.1.b) and, for a pool, stride is
 * a non-zero multiple of 64 (W-15.22.e); else -1 (TP_ERR_INVALID_ARG). */
TP_INTERNAL int tp_shm_geometry_check(int16_t region_type, uint32_t nslots, uint32_t stride_bytes);

/* Minimum file size (§3.1): 64 + nslots*256 for a ring, 64 + nslots*stride
 * for a pool, in 64-bit arithmetic. 0 for an unknown region type. */
TP_INTERNAL uint64_t tp_shm_region_min_size(int16_t region_type, uint32_t nslots, uint32_t stride_bytes);

/* Check a decoded superblock against the expectation (W-7.1.c/e/h, W-15.1.a/b,
 * D-5). Activity freshness is separate (tp_shm_activity_fresh). On failure
 * returns -1 (TP_ERR_MALFORMED or TP_ERR_STATE) naming the first bad field. */
TP_INTERNAL int tp_superblock_check(const tp_superblock_t *sb, const tp_shm_region_expect_t *e);

/* Announce-independent superblock checks, for tools that inspect a region
 * file on its own: magic, layout_version 1, region_type, nslots power of two,
 * ring pool_id 0 and slot_bytes 256, pool stride a non-zero multiple of 64,
 * file_size >= the §3.1 minimum. Stores up to max static descriptions in
 * why[] and returns the number of problems found (0 = consistent). */
TP_INTERNAL unsigned tp_superblock_problems(const tp_superblock_t *sb, uint64_t file_size, const char **why, unsigned max);

/* 1 if an activity timestamp is fresh at now_ns: non-zero (D-10) and not more
 * than window_ns in the past (a future value counts as age 0). */
TP_INTERNAL int tp_shm_activity_fresh(uint64_t activity_ns, uint64_t now_ns, uint64_t window_ns);

/* tp_shm_region_create flags. */
#define TP_SHM_CREATE_REQUIRE_HUGEPAGES 1u /* refuse a file not on hugetlbfs */
#define TP_SHM_CREATE_NO_PREFAULT 2u       /* pages allocated on first touch (policies.prefault_shm=false) */
#define TP_SHM_CREATE_NO_POPULATE 4u       /* blocks reserved, not faulted into this mapping (a creator that
                                              unmaps at once, like the driver: populating 256 MiB costs ~0.1 s) */

/* Producer: create (or truncate) the file at path, mode 0660 under the
 * process umask, never through a symlink; size it to the §3.1 minimum (rounded
 * up to the hugepage size on hugetlbfs); unless TP_SHM_CREATE_NO_PREFAULT,
 * reserve every block (a full file system fails here, with the bytes needed
 * and free, instead of a SIGBUS at the first write) and, unless
 * TP_SHM_CREATE_NO_POPULATE, fault the pages into this mapping;
 * map it read-write; write sb; fsync (W-15.14.b). The file is removed on
 * failure. flags: TP_SHM_CREATE_*. */
TP_INTERNAL int tp_shm_region_create(tp_shm_region_t *r, const char *path, const tp_superblock_t *sb, unsigned flags);

/* Consumer: containment and open (tp_shm_path_open), size >= minimum before
 * mapping (D-8), mmap read-only, superblock check, and, if window_ns != 0,
 * activity freshness at now_ns (W-15.1.c). Nothing stays mapped on failure. */
TP_INTERNAL int tp_shm_region_map(tp_shm_region_t *r, const tp_shm_bases_t *bases, const tp_shm_uri_t *uri,
                                  const tp_shm_region_expect_t *e, uint64_t now_ns, uint64_t window_ns);

/* Put r's mapping under the process-wide SIGBUS guard: a fault in it (the
 * file truncated by someone else) then turns the whole mapping into zero
 * pages instead of killing the process, and tp_shm_region_lost reports it.
 * create and map do this themselves. 0, or -1 (TP_ERR_CAPACITY) with r left
 * unguarded. See src/shm/README.md "Truncated files". */
TP_INTERNAL int tp_shm_region_guard(tp_shm_region_t *r);

/* Non-zero if r's file no longer backs its mapping: a fault was caught in
 * it, or touching its first and last byte now faults (the file shrank).
 * For the owner's periodic check (liveness, keepalive), not per frame. */
TP_INTERNAL int tp_shm_region_lost(const tp_shm_region_t *r);

/* The error for a lost mapping, named as "<what> <id>" ("header ring 0",
 * "pool 1"): sets TP_ERR_TRUNCATED and returns -1. */
TP_INTERNAL int tp_shm_region_lost_error(const char *what, unsigned id);

/* Unmap (safe on a zeroed or already unmapped region). */
TP_INTERNAL void tp_shm_region_unmap(tp_shm_region_t *r);

#ifdef __cplusplus
}
#endif
#endif
