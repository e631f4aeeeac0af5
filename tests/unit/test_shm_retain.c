/* Retained read mappings (include/tensorpool/shm_retain.h): while a binding
 * holds views, a reader that drops its mapping keeps the address readable
 * (zero pages, the file released) and unmaps it when the last hold goes;
 * without holds it unmaps at once, as before. */
#include "tp_test.h"

#include "tensorpool/shm_retain.h"
#include "unit/shm_test_rig.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

static const tp_shm_pool_config_t POOL1[] = {{.pool_id = 1, .stride_bytes = 4096}};

/* 1 if the page holding p is mapped in this process (mincore fails with
 * ENOMEM on an unmapped range). */
static int mapped(const volatile void *p)
{
    const long pg = sysconf(_SC_PAGESIZE);
    unsigned char v;
    void *page = (void *)((uintptr_t)(const volatile char *)p & ~(uintptr_t)(pg - 1));
    return mincore(page, (size_t)pg, &v) == 0 ? 1 : (errno == ENOMEM ? 0 : -1);
}

static void test_without_holds_drop_unmaps(void)
{
    tp_test_rig_t rig;
    CHECK(tp_test_rig_open(&rig, "retain0", 4, 1, POOL1) == 0);
    const uint8_t *pool = rig.r.pool[0].base;
    CHECK_EQ_I64(mapped(pool), 1);
    tp_shm_reader_close(&rig.r);
    CHECK_EQ_I64(mapped(pool), 0);
    CHECK_EQ_I64((int64_t)tp_shm_retained_count(), 0);
    tp_test_rig_close(&rig);
}

static void test_held_drop_keeps_zero_pages_until_release(void)
{
    tp_test_rig_t rig;
    CHECK(tp_test_rig_open(&rig, "retain1", 4, 1, POOL1) == 0);
    uint8_t *wpool = rig.w.pool[0].base;
    const volatile uint8_t *view = (const volatile uint8_t *)rig.r.pool[0].base + 4096; /* past the superblock page */
    wpool[4096] = 0xab;
    CHECK_EQ_I64(view[0], 0xab);
    tp_shm_retain_hold(); /* two views, as two Python frames */
    tp_shm_retain_hold();
    tp_shm_reader_close(&rig.r);
    CHECK_EQ_I64((int64_t)tp_shm_retained_count(), 2); /* ring and pool */
    CHECK_EQ_I64(mapped(view), 1);
    CHECK_EQ_I64(view[0], 0); /* stale: zeros, not the file, not a fault */
    wpool[4096] = 0xcd;       /* the file is no longer behind it */
    CHECK_EQ_I64(view[0], 0);
    tp_shm_retain_release();
    CHECK_EQ_I64((int64_t)tp_shm_retained_count(), 2); /* one view left */
    CHECK_EQ_I64(mapped(view), 1);
    tp_shm_retain_release();
    CHECK_EQ_I64((int64_t)tp_shm_retained_count(), 0);
    CHECK_EQ_I64(mapped(view), 0);
    tp_test_rig_close(&rig);
}

int main(void)
{
    RUN(test_without_holds_drop_unmaps);
    RUN(test_held_drop_keeps_zero_pages_until_release);
    TP_TEST_END();
}
