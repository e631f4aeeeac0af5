/* The driver's side of the protocol, request by request (docs/spec/driver.md §3, §6
 * scenarios), with raw schema-901 requests and the driver pumped on this
 * thread. Scenario numbers refer to docs/spec/driver.md §6. */
#include "tp_test.h"

#include "driver_test_rig.h"
#include "tensorpool/producer.h"
#include "tensorpool/shm_dir.h"
#include "tensorpool/shm_layout.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#define P TP_DRIVER_ROLE_PRODUCER
#define C TP_DRIVER_ROLE_CONSUMER
#define NONODE 0xFFFFFFFFu

static int count_kind(char kind, int from)
{
    int n = 0;
    for (int i = from; i < g_nev; i++) n += g_ev[i].kind == kind;
    return n;
}

/* Scenario 1 (D-4.2.b/g/h/i, D-8.b, D-4.8.a) and 4 (D-3.a, D-3.d, §5.8). */
static void test_producer_then_consumer(void)
{
    rig_setup(NULL);
    const int64_t t0 = tp_clock_monotonic_ns();
    const int a = rig_attach_wait(10000, 11, P);
    CHECK(a >= 0);
    if (a < 0) return rig_teardown();
    const rig_ev_t p = g_ev[a];
    CHECK_EQ_I64(p.code, 0);
    CHECK(p.lease != 0 && p.lease != UINT64_MAX);
    CHECK_EQ_U64(p.layout, 1);
    CHECK_EQ_U64(p.nslots, 64);
    CHECK_EQ_U64(p.slot_bytes, 256);
    CHECK_EQ_U64(p.npools, 1);
    CHECK_EQ_U64(p.pool_id, 1);
    CHECK_EQ_U64(p.pool_nslots, 64); /* D-4.2.q */
    CHECK_EQ_U64(p.stride, 4096);
    CHECK(p.expiry > (uint64_t)t0 && p.expiry <= (uint64_t)tp_clock_monotonic_ns() + 300000000ull); /* ~now + 3 x 100 ms */
    char want[700];
    snprintf(want, sizeof want, "/10000/%llu/header.ring|require_hugepages=false", (unsigned long long)p.epoch);
    CHECK(strncmp(p.ring_uri, "shm:file?path=", 14) == 0 && strstr(p.ring_uri, want) != NULL);
    CHECK(strstr(p.pool_uri, "/1.pool|require_hugepages=false") != NULL);
    /* the announce precedes the answer and names the producer (D-8.b) */
    int n = -1;
    for (int i = 0; i < a; i++)
        if (g_ev[i].kind == 'N' && g_ev[i].epoch == p.epoch) n = i;
    CHECK(n >= 0 && g_ev[n].producer == 11 && g_ev[n].stream == 10000);

    const int b = rig_attach_wait(10000, 12, C);
    CHECK(b >= 0 && g_ev[b].code == 0);
    if (b >= 0) {
        CHECK_EQ_U64(g_ev[b].epoch, p.epoch); /* a consumer does not bump */
        CHECK_STR(g_ev[b].ring_uri, p.ring_uri);
        CHECK(g_ev[b].lease != p.lease);
        CHECK(g_ev[b].node != p.node && g_ev[b].node != 0 && g_ev[b].node != NONODE); /* scenario 30 */
    }
    /* scenario 4: files on disk */
    char path[700];
    const char *ring = strstr(p.ring_uri, "path=") + 5;
    snprintf(path, sizeof path, "%.*s", (int)(strchr(ring, '|') - ring), ring);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 64 + 64 * 256 && (st.st_mode & 0777) == 0660);
    char dir[700];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0770);
    FILE *f = fopen(path, "rb");
    uint8_t sbb[64] = {0};
    if (f != NULL) {
        CHECK(fread(sbb, 1, 64, f) == 64);
        fclose(f);
    }
    tp_superblock_t sb;
    tp_superblock_read(sbb, &sb);
    CHECK_EQ_U64(sb.magic, TP_SHM_MAGIC);
    CHECK_EQ_U64(sb.epoch, p.epoch);
    CHECK_EQ_U64(sb.region_type, 1);
    CHECK_EQ_U64(sb.pool_id, 0);
    snprintf(strrchr(path, '/'), 16, "/1.pool");
    CHECK(stat(path, &st) == 0 && st.st_size == 64 + 64 * 4096);
    rig_teardown();
}

/* Scenario 2 (D-5.a, D-4.2.j/k, D-4.6.a): second producer refused with every
 * optional field null, no pools, empty URI, no epoch change. W-10.1.a: the
 * driver encodes each absent optional field as its null sentinel. */
static void test_second_producer_rejected(void)
{
    rig_setup(NULL);
    const int a = rig_attach_wait(10000, 11, P);
    CHECK(a >= 0 && g_ev[a].code == 0);
    rig_pump(20);
    const int before = count_kind('N', 0);
    const int b = rig_attach_wait(10000, 13, P);
    CHECK(b >= 0);
    if (b >= 0) {
        CHECK_EQ_I64(g_ev[b].code, TP_DRIVER_RESPONSE_CODE_REJECTED);
        CHECK_STR(g_ev[b].msg, "producer already attached");
        CHECK_EQ_U64(g_ev[b].lease, UINT64_MAX);
        CHECK_EQ_U64(g_ev[b].epoch, UINT64_MAX);
        CHECK_EQ_U64(g_ev[b].stream, 0xFFFFFFFFu);
        CHECK_EQ_U64(g_ev[b].node, NONODE);
        CHECK_EQ_U64(g_ev[b].slot_bytes, 0xFFFF);
        CHECK_EQ_U64(g_ev[b].npools, 0);
        CHECK_STR(g_ev[b].ring_uri, "");
    }
    uint64_t epoch = 0;
    tp_driver_stream_epoch(g_drv, 10000, &epoch);
    CHECK(a >= 0 && epoch == g_ev[a].epoch);
    CHECK(count_kind('N', 0) - before <= 1); /* at most the periodic one, never an extra */
    rig_teardown();
}

/* Scenario 3 (D-6.a.1): consumer first gets E1, the producer E2 > E1. */
static void test_consumer_first_then_producer_bumps(void)
{
    rig_setup(NULL);
    const int a = rig_attach_wait(10000, 12, C);
    const int b = rig_attach_wait(10000, 11, P);
    CHECK(a >= 0 && b >= 0 && g_ev[a].code == 0 && g_ev[b].code == 0);
    if (a >= 0 && b >= 0) CHECK(g_ev[b].epoch > g_ev[a].epoch);
    rig_teardown();
}

struct code_case {
    uint32_t stream, client;
    uint8_t role;
    uint32_t layout;
    uint8_t mode, huge;
    uint32_t node;
    int32_t code;
    const char *msg;
};

/* Scenarios 5, 12-15, 16-19 (D-4.2.e, D-4.3.a-e, D-4.6.a, [R] 3/5/7). */
static void test_parameter_validation_codes(void)
{
    rig_setup(NULL);
    static const struct code_case cases[] = {
        {20001, 21, C, 1, 2, 0, NONODE, TP_DRIVER_RESPONSE_CODE_REJECTED, "stream not provisioned"},     /* 5 */
        {10000, 22, C, 2, 1, 0, NONODE, TP_DRIVER_RESPONSE_CODE_REJECTED, "layout version mismatch"},    /* 12 */
        {10000, 23, C, 0, 1, 0, NONODE, TP_DRIVER_RESPONSE_CODE_OK, ""},                                 /* 13 */
        {10000, 24, 0, 1, 1, 0, NONODE, TP_DRIVER_RESPONSE_CODE_INVALID_PARAMS, "invalid role"},         /* 14 */
        {10000, 25, 3, 1, 1, 0, NONODE, TP_DRIVER_RESPONSE_CODE_INVALID_PARAMS, "invalid role"},         /* 14 */
        {10000, 0, C, 1, 1, 0, NONODE, TP_DRIVER_RESPONSE_CODE_INVALID_PARAMS, "client_id must be non-zero"}, /* 15 */
        {10000, 26, C, 1, 1, 2, NONODE, TP_DRIVER_RESPONSE_CODE_REJECTED, "hugepages not available"},    /* 16 */
        {10000, 27, C, 1, 1, 1, NONODE, TP_DRIVER_RESPONSE_CODE_OK, ""},                                 /* 17 */
        {10000, 28, C, 1, 1, 9, NONODE, TP_DRIVER_RESPONSE_CODE_INVALID_PARAMS, "invalid hugepages policy"}, /* 18 */
        {10000, 29, C, 1, 7, 0, NONODE, TP_DRIVER_RESPONSE_CODE_UNSUPPORTED, "unsupported publish mode"}, /* 19 */
        {10000, 30, C, 1, 255, 0, NONODE, TP_DRIVER_RESPONSE_CODE_OK, ""},                               /* 19: null mode */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct code_case *k = &cases[i];
        const int64_t corr = rig_attach(k->stream, k->client, k->role, k->layout, k->mode, k->huge, k->node);
        const int e = rig_wait('A', corr, 0, 2000);
        CHECK(e >= 0);
        if (e < 0) continue;
        if (g_ev[e].code != k->code || strcmp(g_ev[e].msg, k->msg) != 0) {
            fprintf(stderr, "case %zu: got %d '%s', want %d '%s'\n", i, g_ev[e].code, g_ev[e].msg, k->code, k->msg);
            CHECK(0);
        }
        if (k->code == 0 && k->layout == 0) CHECK_EQ_U64(g_ev[e].layout, 1); /* 13 */
        if (k->code == 0 && k->huge == 1) CHECK(strstr(g_ev[e].ring_uri, "require_hugepages=false") != NULL); /* 17 */
    }
    /* scenario 5: no files for the unknown stream */
    struct stat st;
    char user[256], user_dir[700];
    CHECK(tp_shm_user_effective(user, sizeof user) > 0);
    snprintf(user_dir, sizeof user_dir, "%s/tensorpool-%s/default/10000", g_rig_dir, user);
    CHECK(stat(user_dir, &st) == 0); /* the path is right ... */
    snprintf(user_dir, sizeof user_dir, "%s/tensorpool-%s/default/20001", g_rig_dir, user);
    CHECK(stat(user_dir, &st) != 0); /* ... and nothing exists for 20001 */
    /* a request with a wrong root blockLength is dropped, not answered (§4.5) */
    uint8_t bad[35];
    const int64_t corr = rig_attach(10000, 31, C, 1, 1, 0, NONODE);
    (void)corr;
    rig_pump(20);
    tp_driver_stats_t s0, s1;
    tp_driver_stats(g_drv, &s0);
    memcpy(bad, g_rig_buf, sizeof bad);
    bad[0] = 26; /* blockLength 26 instead of 27 */
    const int before = count_kind('A', 0);
    tp_ipc_publication_offer(g_rig_pub, bad, sizeof bad);
    rig_pump(30);
    tp_driver_stats(g_drv, &s1);
    CHECK_EQ_U64(s1.malformed, s0.malformed + 1);
    CHECK_EQ_I64(count_kind('A', 0), before);
    CHECK_EQ_U64(s1.control_loss, 0);
    if (strcmp(rig_channel(), "tp:ipc") == 0) {
        /* The control stream's log is lossy: 3 MiB of requests while the
         * driver does not poll lap its subscription; the loss is counted,
         * not silent (attach retransmits recover it). */
        static uint8_t junk[1024];
        for (int i = 0; i < 3000; i++) tp_ipc_publication_offer(g_rig_pub, junk, sizeof junk);
        rig_pump(50);
        tp_driver_stats(g_drv, &s1);
        CHECK(s1.control_loss > 0);
    }
    /* D-4.4a.b: a request at a schema version the driver lacks gets UNSUPPORTED */
    const int64_t cv = rig_attach(10000, 32, C, 1, 1, 0, NONODE);
    rig_pump(20);
    memcpy(bad, g_rig_buf, sizeof bad);
    bad[6] = 2; /* version 2 */
    tp_ipc_publication_offer(g_rig_pub, bad, sizeof bad);
    const int uv = rig_wait('A', cv, count_kind('A', 0) > 0 ? 0 : 0, 500);
    (void)uv;
    int found = 0;
    for (int i = 0; i < 200 && !found; i++) {
        for (int k = 0; k < g_nev; k++)
            if (g_ev[k].kind == 'A' && g_ev[k].corr == cv && g_ev[k].code == TP_DRIVER_RESPONSE_CODE_UNSUPPORTED) found = 1;
        if (!found) rig_pump(2);
    }
    CHECK(found);
    rig_teardown();
}

/* Scenarios 21, 26, 28, 29, 30 (D-4.8.c/d, D-4.2.d, §3.9). */
static void test_identity_rules(void)
{
    rig_setup(NULL);
    const int a = rig_attach_wait(10000, 11, C);
    CHECK(a >= 0 && g_ev[a].code == 0);
    const int b = rig_attach_wait(10000, 11, C);
    CHECK(b >= 0 && g_ev[b].code == TP_DRIVER_RESPONSE_CODE_REJECTED && strcmp(g_ev[b].msg, "client_id already attached") == 0);
    /* 26: a retransmission (same client, same corr) replays the same OK, one lease */
    const int64_t corr = rig_attach(10000, 40, C, 1, 1, 0, NONODE);
    const int r1 = rig_wait('A', corr, 0, 2000);
    g_rig_corr--; /* resend the identical bytes */
    const int64_t again = rig_attach(10000, 40, C, 1, 1, 0, NONODE);
    CHECK_EQ_I64(again, corr);
    const int r2 = rig_wait('A', corr, r1 + 1, 2000);
    CHECK(r1 >= 0 && r2 >= 0);
    if (r1 >= 0 && r2 >= 0) CHECK(g_ev[r1].code == 0 && g_ev[r2].code == 0 && g_ev[r1].lease == g_ev[r2].lease);
    tp_driver_stats_t st;
    tp_driver_stats(g_drv, &st);
    CHECK_EQ_U64(st.leases_active, 2);
    /* 28: desired node id held by another lease */
    const uint32_t held = a >= 0 ? g_ev[a].node : 1;
    const int64_t c2 = rig_attach(10000, 41, C, 1, 1, 0, held);
    const int d = rig_wait('A', c2, 0, 2000);
    CHECK(d >= 0 && g_ev[d].code == TP_DRIVER_RESPONSE_CODE_REJECTED && strcmp(g_ev[d].msg, "desired node_id unavailable") == 0 &&
          g_ev[d].node == NONODE);
    /* 29: after detach the id cools down (1000 ms here), then it is granted */
    if (a >= 0) {
        const int64_t dc = rig_detach(g_ev[a].lease, 10000, 11, C);
        CHECK(rig_wait('D', dc, 0, 2000) >= 0);
        const int64_t c3 = rig_attach(10000, 42, C, 1, 1, 0, held);
        const int e = rig_wait('A', c3, 0, 2000);
        CHECK(e >= 0 && g_ev[e].code == TP_DRIVER_RESPONSE_CODE_REJECTED);
        rig_pump(1100);
        const int64_t c4 = rig_attach(10000, 43, C, 1, 1, 0, held);
        const int f = rig_wait('A', c4, 0, 2000);
        CHECK(f >= 0 && g_ev[f].code == 0 && g_ev[f].node == held);
    }
    rig_teardown();
}

/* Scenarios 41, 42, 44 (D-4.4.a-d, D-4.9.e, §3.6). */
static void test_keepalive_and_expiry(void)
{
    rig_setup(NULL);
    const int a = rig_attach_wait(10000, 11, C);
    const int b = rig_attach_wait(10000, 12, C);
    CHECK(a >= 0 && b >= 0);
    if (a < 0 || b < 0) return rig_teardown();
    const rig_ev_t la = g_ev[a], lb = g_ev[b];
    const int from = g_nev;
    /* 41: la is kept alive for 1 s (> 3 TTLs); 44: lb gets keepalives with the wrong client id */
    for (int i = 0; i < 20; i++) {
        rig_keepalive(la.lease, 10000, 11, C);
        rig_keepalive(lb.lease, 10000, 99, C);
        rig_pump(50);
    }
    int revoked_a = 0, revoked_b = 0;
    for (int i = from; i < g_nev; i++) {
        if (g_ev[i].kind != 'R') continue;
        if (g_ev[i].lease == la.lease) revoked_a++;
        if (g_ev[i].lease == lb.lease) {
            revoked_b++;
            CHECK_EQ_U64(g_ev[i].reason, TP_DRIVER_LEASE_REVOKE_REASON_EXPIRED); /* 42 */
            CHECK_EQ_U64(g_ev[i].client, 12);
            CHECK_EQ_U64(g_ev[i].stream, 10000);
            CHECK_STR(g_ev[i].msg, "lease expired");
        }
    }
    CHECK_EQ_I64(revoked_a, 0);
    CHECK_EQ_I64(revoked_b, 1); /* D-4.9.n: once */
    uint64_t epoch = 0;
    tp_driver_stream_epoch(g_drv, 10000, &epoch);
    CHECK_EQ_U64(epoch, la.epoch); /* a consumer expiry does not bump */
    rig_teardown();
}

/* docs/threat-model.md: lease ids are public (every ShmAttachResponse and
 * keepalive shows them), so a lease is bound to the publication that
 * attached it. From another publication, a detach with every identity
 * field right is answered "lease not found" and leaves the lease alone, and
 * keepalives do not keep it alive: la (kept alive by its owner) survives,
 * lb (kept alive only by the forger) expires; each refusal is counted. */
static void test_lease_bound_to_its_publication(void)
{
    rig_setup(NULL);
    const int a = rig_attach_wait(10000, 11, C);
    const int b = rig_attach_wait(10000, 12, C);
    CHECK(a >= 0 && b >= 0);
    tp_ipc_publication_t *forger = NULL;
    CHECK_EQ_I64(tp_ipc_publication_open(&forger, &g_rig_ipc, rig_channel(), 1000), 0);
    if (a < 0 || b < 0 || forger == NULL) return rig_teardown();
    const rig_ev_t la = g_ev[a], lb = g_ev[b];
    const int from = g_nev;
    tp_ipc_publication_t *own = g_rig_pub;
    g_rig_pub = forger;
    const int64_t d = rig_detach(la.lease, 10000, 11, C);
    const int e = rig_wait('D', d, from, 2000);
    CHECK(e >= 0 && g_ev[e].code == TP_DRIVER_RESPONSE_CODE_REJECTED && strcmp(g_ev[e].msg, "lease not found") == 0);
    g_rig_pub = own;
    for (int i = 0; i < 20; i++) { /* 1 s, over 3 lease times (300 ms) */
        rig_keepalive(la.lease, 10000, 11, C);
        g_rig_pub = forger;
        rig_keepalive(lb.lease, 10000, 12, C);
        g_rig_pub = own;
        rig_pump(50);
    }
    int revoked_a = 0, revoked_b = 0;
    for (int i = from; i < g_nev; i++) {
        if (g_ev[i].kind != 'R') continue;
        revoked_a += g_ev[i].lease == la.lease;
        revoked_b += g_ev[i].lease == lb.lease && g_ev[i].reason == TP_DRIVER_LEASE_REVOKE_REASON_EXPIRED;
    }
    CHECK_EQ_I64(revoked_a, 0);
    CHECK_EQ_I64(revoked_b, 1);
    tp_driver_stats_t st;
    tp_driver_stats(g_drv, &st);
    CHECK(st.refused_not_owner >= 2); /* the detach, and keepalives until lb expired (then: no such lease) */
    CHECK_EQ_U64(st.refused_foreign, 0);
    tp_ipc_publication_close(forger);
    rig_teardown();
}

/* Scenario 43 (D-4.7a.b, D-7.b): producer expiry -> Revoked, then an announce
 * with a higher epoch and producerId 0. */
static void test_producer_expiry_bumps_epoch(void)
{
    rig_setup(NULL);
    const int a = rig_attach_wait(10000, 11, P);
    CHECK(a >= 0 && g_ev[a].code == 0);
    if (a < 0) return rig_teardown();
    const int r = rig_wait('R', 0, a, 1000);
    CHECK(r >= 0 && g_ev[r].lease == g_ev[a].lease && g_ev[r].reason == TP_DRIVER_LEASE_REVOKE_REASON_EXPIRED);
    int n = -1;
    for (int i = r + 1; r >= 0 && i < g_nev && n < 0; i++)
        if (g_ev[i].kind == 'N') n = i;
    if (n < 0 && r >= 0) n = rig_wait('N', 0, r + 1, 500);
    CHECK(n >= 0 && g_ev[n].epoch > g_ev[a].epoch && g_ev[n].producer == 0);
    rig_teardown();
}

/* Someone truncates the live epoch's ring, or zeroes its superblock: on its
 * next announce period the driver revokes the producer's lease naming the
 * broken file and announces a new epoch (issue 14: no consumer stays
 * unmapped for good). */
static void test_broken_region_rolls_epoch(void)
{
    rig_setup(NULL);
    int a = rig_attach_wait(10000, 11, P);
    CHECK(a >= 0 && g_ev[a].code == 0);
    if (a < 0) return rig_teardown();
    for (int round = 0; round < 2; round++) {
        char path[600];
        const char *at = strstr(g_ev[a].ring_uri, "path=");
        CHECK(at != NULL);
        if (at == NULL) break;
        snprintf(path, sizeof path, "%.*s", (int)strcspn(at + 5, "|"), at + 5);
        const int fd = open(path, O_WRONLY);
        CHECK(fd >= 0);
        static const uint8_t zeros[64];
        CHECK(round == 0 ? ftruncate(fd, 0) == 0 : pwrite(fd, zeros, sizeof zeros, 0) == (ssize_t)sizeof zeros);
        close(fd);
        rig_keepalive(g_ev[a].lease, 10000, 11, P); /* not an expiry */
        const int r = rig_wait('R', 0, a, 1000);
        CHECK(r >= 0 && g_ev[r].lease == g_ev[a].lease && g_ev[r].reason == TP_DRIVER_LEASE_REVOKE_REASON_REVOKED);
        if (r < 0) break;
        CHECK(strstr(g_ev[r].msg, "region files broken") != NULL);
        CHECK(strstr(g_ev[r].msg, round == 0 ? "truncated" : "bad magic") != NULL);
        const int n = rig_wait('N', 0, r, 500);
        CHECK(n >= 0 && g_ev[n].epoch > g_ev[a].epoch);
        tp_driver_stats_t st;
        tp_driver_stats(g_drv, &st);
        CHECK_EQ_U64(st.regions_broken, (uint64_t)round + 1);
        a = rig_attach_wait(10000, 11, P); /* the producer attaches again */
        CHECK(a >= 0 && g_ev[a].code == 0);
        if (a < 0) break;
    }
    rig_teardown();
}

/* Scenarios 45-48 (D-4.9.a-e, D-4.8.a, D-6.a.2): detach order, mismatched
 * role, twice, and reattach with a new epoch and lease. */
static void test_detach_rules(void)
{
    rig_setup(NULL);
    const int a = rig_attach_wait(10000, 11, P);
    CHECK(a >= 0 && g_ev[a].code == 0);
    if (a < 0) return rig_teardown();
    const rig_ev_t l = g_ev[a];
    /* 46: mismatched role */
    int from = g_nev;
    const int64_t d0 = rig_detach(l.lease, 10000, 11, C);
    const int e0 = rig_wait('D', d0, from, 2000);
    CHECK(e0 >= 0 && g_ev[e0].code == TP_DRIVER_RESPONSE_CODE_REJECTED && strcmp(g_ev[e0].msg, "lease not found") == 0);
    CHECK_EQ_I64(count_kind('R', from), 0);
    /* 45: Revoked, then Announce(E' > E, producer 0), then DetachResponse(OK) */
    from = g_nev;
    const int64_t d1 = rig_detach(l.lease, 10000, 11, P);
    const int e1 = rig_wait('D', d1, from, 2000);
    CHECK(e1 >= 0 && g_ev[e1].code == 0);
    int r = -1, n = -1;
    for (int i = from; e1 >= 0 && i < e1; i++) {
        if (g_ev[i].kind == 'R' && g_ev[i].lease == l.lease && r < 0) r = i;
        if (g_ev[i].kind == 'N' && g_ev[i].epoch > l.epoch && n < 0) n = i;
    }
    CHECK(r >= 0 && n > r && g_ev[r].reason == TP_DRIVER_LEASE_REVOKE_REASON_DETACHED && g_ev[n].producer == 0);
    /* 47: twice -> REJECTED, no second revocation */
    from = g_nev;
    const int64_t d2 = rig_detach(l.lease, 10000, 11, P);
    const int e2 = rig_wait('D', d2, from, 2000);
    CHECK(e2 >= 0 && g_ev[e2].code == TP_DRIVER_RESPONSE_CODE_REJECTED);
    CHECK_EQ_I64(count_kind('R', from), 0);
    /* 48: reattach -> E'' > E', another lease id */
    const int b = rig_attach_wait(10000, 11, P);
    CHECK(b >= 0 && g_ev[b].code == 0 && g_ev[b].lease != l.lease && n >= 0 && g_ev[b].epoch > g_ev[n].epoch);
    rig_teardown();
}

/* Scenarios 6-10 (D-11.a/b, §5.4, [R] 2). */
static void test_dynamic_streams(void)
{
    rig_setup("allow_dynamic_streams = true\n[driver]\nstream_id_range = \"20000-20002\"\n");
    int64_t corr = rig_attach(20001, 11, P, 1, 1, 0, NONODE); /* 6: REQUIRE_EXISTING */
    int e = rig_wait('A', corr, 0, 2000);
    CHECK(e >= 0 && g_ev[e].code == TP_DRIVER_RESPONSE_CODE_REJECTED && strcmp(g_ev[e].msg, "stream not provisioned") == 0);
    corr = rig_attach(20001, 11, P, 1, 2, 0, NONODE); /* 7 */
    e = rig_wait('A', corr, 0, 2000);
    CHECK(e >= 0 && g_ev[e].code == 0 && g_ev[e].stream == 20001);
    corr = rig_attach(0, 12, P, 1, 2, 0, NONODE); /* 8: id 0 takes the next free */
    e = rig_wait('A', corr, 0, 2000);
    CHECK(e >= 0 && g_ev[e].code == 0 && g_ev[e].stream == 20000);
    corr = rig_attach(0, 13, P, 1, 2, 0, NONODE);
    e = rig_wait('A', corr, 0, 2000);
    CHECK(e >= 0 && g_ev[e].code == 0 && g_ev[e].stream == 20002); /* 20001 is taken */
    corr = rig_attach(15000, 14, P, 1, 2, 0, NONODE); /* 9 */
    e = rig_wait('A', corr, 0, 2000);
    CHECK(e >= 0 && g_ev[e].code == TP_DRIVER_RESPONSE_CODE_INVALID_PARAMS && strcmp(g_ev[e].msg, "stream id outside range") == 0);
    corr = rig_attach(0, 15, P, 1, 2, 0, NONODE); /* 10: exhausted */
    e = rig_wait('A', corr, 0, 2000);
    CHECK(e >= 0 && g_ev[e].code == TP_DRIVER_RESPONSE_CODE_INVALID_PARAMS && strcmp(g_ev[e].msg, "no stream ids available") == 0);
    rig_teardown();
}

/* Scenarios 54-57 (D-4.13.a-c, [R] 11/12). */
static void test_shutdown_requests(void)
{
    rig_setup("shutdown_token = \"s3cret\"\n");
    const int a = rig_attach_wait(10000, 11, P);
    CHECK(a >= 0 && g_ev[a].code == 0);
    tp_driver_stats_t s;
    rig_shutdown_request("nope", 1); /* 55 */
    rig_shutdown_request("", 1);     /* 56 */
    rig_pump(30);
    tp_driver_stats(g_drv, &s);
    CHECK_EQ_U64(s.shutdown_refused, 2);
    CHECK(!tp_driver_is_stopped(g_drv));
    const int b = rig_attach_wait(10000, 12, C); /* still serving */
    CHECK(b >= 0 && g_ev[b].code == 0);
    const int from = g_nev;
    rig_shutdown_request("s3cret", 1); /* 54 */
    rig_pump(30);
    CHECK(count_kind('N', from) >= 1); /* final announce */
    const int c = rig_attach_wait(10000, 13, C);
    CHECK(c >= 0 && g_ev[c].code == TP_DRIVER_RESPONSE_CODE_REJECTED && strcmp(g_ev[c].msg, "driver shutting down") == 0);
    if (a >= 0) rig_keepalive(g_ev[a].lease, 10000, 11, P); /* keepalives still honoured */
    const int sd = rig_wait('S', 0, from, 1000);
    CHECK(sd >= 0 && g_ev[sd].reason == TP_DRIVER_SHUTDOWN_REASON_ADMIN);
    CHECK(tp_driver_is_stopped(g_drv));
    rig_teardown();
    /* 57: feature off ignores even an empty token */
    rig_setup(NULL);
    rig_shutdown_request("", 1);
    rig_pump(30);
    CHECK(!tp_driver_is_stopped(g_drv));
    rig_teardown();
}

/* Scenario 60 (D-10.c, D-4.8.b, [R] 22): a restarted driver issues an epoch
 * above every earlier one and ignores old leases. */
static void test_restart_epochs_and_old_leases(void)
{
    rig_setup(NULL);
    const int a = rig_attach_wait(10000, 11, P);
    CHECK(a >= 0 && g_ev[a].code == 0);
    if (a < 0) return rig_teardown();
    const rig_ev_t old = g_ev[a];
    tp_driver_close(g_drv, 0, NULL); /* sends ShmDriverShutdown */
    g_drv = NULL;
    CHECK(rig_wait('S', 0, a, 500) >= 0);
    /* make "now" useless as a source of order: the persisted epoch must do it */
    if (tp_driver_open(&g_drv, &g_rig_cfg, NULL) != 0) {
        CHECK(0);
        return rig_teardown();
    }
    const int from = g_nev;
    rig_keepalive(old.lease, 10000, 11, P); /* silently ignored */
    const int64_t d = rig_detach(old.lease, 10000, 11, P);
    const int e = rig_wait('D', d, from, 2000);
    CHECK(e >= 0 && g_ev[e].code == TP_DRIVER_RESPONSE_CODE_REJECTED && strcmp(g_ev[e].msg, "lease not found") == 0);
    const int b = rig_attach_wait(10000, 11, P); /* any client id is accepted again */
    CHECK(b >= 0 && g_ev[b].code == 0 && g_ev[b].epoch > old.epoch);
    rig_teardown();
}

/* D-10.c, D-14.a, [R] 22: the persisted last epoch is honoured even when it
 * is far above the clock (e.g. epochs of an earlier boot): the next epoch is
 * strictly above it. */
static void test_persisted_epoch_honoured(void)
{
    rig_setup(NULL);
    tp_driver_close(g_drv, 0, NULL);
    g_drv = NULL;
    char user[256], path[800];
    CHECK(tp_shm_user_effective(user, sizeof user) > 0);
    snprintf(path, sizeof path, "%s/tensorpool-%s/default/10000", g_rig_dir, user);
    mkdir(path, 0770);
    const unsigned long long far = (unsigned long long)tp_clock_monotonic_ns() + 1000000000000000ull;
    snprintf(path + strlen(path), sizeof path - strlen(path), "/last_epoch");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fprintf(f, "%llu\n", far);
        fclose(f);
    }
    CHECK_EQ_I64(tp_driver_open(&g_drv, &g_rig_cfg, NULL), 0);
    const int a = rig_attach_wait(10000, 11, C);
    CHECK(a >= 0 && g_ev[a].code == 0 && g_ev[a].epoch == far + 1);
    rig_teardown();
}

/* W-7.1.g: an epoch never wraps. With the persisted last epoch at
 * UINT64_MAX - 1 the next one would be the wire's null value and the one after
 * would wrap below every earlier epoch (consumers would ignore it forever):
 * the driver refuses to create it, announces nothing for the stream, and
 * leaves the persisted value alone. */
static void test_epoch_never_wraps(void)
{
    rig_setup(NULL);
    tp_driver_close(g_drv, 0, NULL);
    g_drv = NULL;
    char user[256], path[800];
    CHECK(tp_shm_user_effective(user, sizeof user) > 0);
    snprintf(path, sizeof path, "%s/tensorpool-%s/default/10000", g_rig_dir, user);
    mkdir(path, 0770);
    snprintf(path + strlen(path), sizeof path - strlen(path), "/last_epoch");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fprintf(f, "%llu\n", (unsigned long long)(UINT64_MAX - 1));
        fclose(f);
    }
    CHECK_EQ_I64(tp_driver_open(&g_drv, &g_rig_cfg, NULL), 0);
    for (int k = 0; k < 2; k++) {
        const int a = rig_attach_wait(10000, 11, P);
        CHECK(a >= 0 && g_ev[a].code == TP_DRIVER_RESPONSE_CODE_INTERNAL_ERROR && g_ev[a].epoch == UINT64_MAX);
    }
    rig_pump(250); /* periodic announces (100 ms) would show a live stream */
    CHECK_EQ_I64(count_kind('N', 0), 0);
    char buf[64] = "";
    f = fopen(path, "r");
    CHECK(f != NULL && fgets(buf, sizeof buf, f) != NULL);
    if (f != NULL) fclose(f);
    CHECK_STR(buf, "18446744073709551614\n");
    rig_teardown();
}

/* Scenario 64 (§5.8 step 6): keep 2 -> only the current and previous epoch
 * directories remain after four producer cycles. */
static void test_epoch_gc(void)
{
    rig_setup("epoch_gc_keep = 2\nepoch_gc_min_age_ns = 1\n");
    uint64_t epoch = 0;
    for (int i = 0; i < 4; i++) {
        const int a = rig_attach_wait(10000, (uint32_t)(11 + i), P);
        CHECK(a >= 0 && g_ev[a].code == 0);
        if (a < 0) break;
        const int64_t d = rig_detach(g_ev[a].lease, 10000, (uint32_t)(11 + i), P);
        CHECK(rig_wait('D', d, a, 2000) >= 0);
    }
    tp_driver_stream_epoch(g_drv, 10000, &epoch);
    char sdir[600];
    const char *user = getenv("USER");
    (void)user;
    /* count numeric entries under .../10000/ */
    char cmd[800];
    snprintf(sdir, sizeof sdir, "%s", g_rig_dir);
    snprintf(cmd, sizeof cmd, "ls -d %s/tensorpool-*/default/10000/[0-9]* | wc -l", sdir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p != NULL) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    CHECK_EQ_I64(n, 2);
    rig_teardown();
}

/* Administrative revocation (D-4.9.e, reason REVOKED) and the embedded
 * driver's one-call start/stop (D-2.1.b). */
static void test_admin_revoke_and_embedded(void)
{
    rig_setup(NULL);
    const int a = rig_attach_wait(10000, 11, C);
    CHECK(a >= 0 && g_ev[a].code == 0);
    if (a >= 0) {
        CHECK_EQ_I64(tp_driver_revoke(g_drv, g_ev[a].lease, "operator"), 0);
        const int r = rig_wait('R', 0, a, 500);
        CHECK(r >= 0 && g_ev[r].reason == TP_DRIVER_LEASE_REVOKE_REASON_REVOKED && strcmp(g_ev[r].msg, "operator") == 0);
        CHECK_EQ_I64(tp_driver_revoke(g_drv, g_ev[a].lease, "again"), -1);
    }
    tp_driver_close(g_drv, 0, NULL);
    g_drv = NULL;
    tp_driver_embedded_t *e = NULL;
    CHECK_EQ_I64(tp_driver_embedded_start(&e, &g_rig_cfg), 0);
    if (e == NULL) fprintf(stderr, "embedded driver: %s\n", tp_errmsg());
    /* the lock is held by the embedded driver: a second one is refused (D-2.1.c) */
    tp_driver_t *second = NULL;
    CHECK_EQ_I64(tp_driver_open(&second, &g_rig_cfg, NULL), -1);
    CHECK(tp_errcode() == TP_ERR_STATE);
    const int b = rig_attach_wait(10000, 12, C);
    CHECK(b >= 0 && g_ev[b].code == 0);
    tp_driver_embedded_stop(e);
    rig_teardown();
}

/* With the driver parking up to 1 s when idle, a producer's attach is still
 * answered at once: the client's control publication rings the doorbell the
 * driver sleeps on (src/ipc/ipc_doorbell.h). Without it, each round trip of
 * an attach would wait for the rest of a park, evenly anywhere in 0..1 s:
 * three attaches all under 300 ms would then be a 3 % chance. */
static void test_attach_wakes_a_parked_driver(void)
{
    if (rig_on_aeron()) TP_SKIP("the doorbell is tp:ipc's; on Aeron the driver wakes on its timer");
    rig_setup("[driver]\nidle_park_max_us = 1000000\n");
    tp_driver_close(g_drv, 0, NULL);
    g_drv = NULL;
    tp_driver_embedded_t *e = NULL;
    CHECK_EQ_I64(tp_driver_embedded_start(&e, &g_rig_cfg), 0);
    int64_t worst = 0;
    for (int i = 0; i < 3 && e != NULL; i++) {
        usleep(1500000); /* idle: the driver's parks have grown to 1 s */
        tp_client_context_t c;
        tp_client_context_init(&c);
        snprintf(c.base_dir, sizeof c.base_dir, "%s", g_rig_dir);
        tp_producer_t *p = NULL;
        CHECK_EQ_I64(tp_producer_open(&p, &c, 10000, 0, "doorbell", NULL), 0);
        if (p == NULL) break;
        const int64_t t0 = tp_clock_monotonic_ns();
        while (!tp_producer_is_active(p) && tp_clock_monotonic_ns() - t0 < 5000000000LL)
            tp_producer_do_work(p, tp_clock_monotonic_ns());
        const int64_t took = tp_clock_monotonic_ns() - t0;
        CHECK(tp_producer_is_active(p));
        if (took > worst) worst = took;
        tp_producer_close(p);
    }
    printf("slowest of 3 attaches to a driver parking up to 1 s: %.1f ms\n", (double)worst / 1e6);
    CHECK(worst < 300000000);
    tp_driver_embedded_stop(e);
    rig_teardown();
}

static int wait_config(uint32_t consumer, int from)
{
    for (int tries = 0; tries < 500; tries++) {
        for (int i = from; i < g_nev; i++)
            if (g_ev[i].kind == 'C' && g_ev[i].client == consumer) return i;
        rig_pump(2);
    }
    return -1;
}

/* D-11.c/d, docs/spec/driver.md §5.5, [R] 18: per-consumer descriptor streams chosen
 * by the driver from its range; the same consumer keeps its id; an exhausted
 * range declines (empty channel, 0), a missing one points at the shared
 * stream; an id named by the consumer is left to the producer. */
static void test_per_consumer_stream_authority(void)
{
    rig_setup("[driver]\ndescriptor_stream_id_range = \"31000-31001\"\n");
    int from = g_nev;
    rig_hello(10000, 501, rig_channel(), 0);
    int e = wait_config(501, from);
    CHECK(e >= 0 && g_ev[e].producer == 31000 && strcmp(g_ev[e].msg, rig_channel()) == 0);
    from = g_nev;
    rig_hello(10000, 502, rig_channel(), 0);
    e = wait_config(502, from);
    CHECK(e >= 0 && g_ev[e].producer == 31001);
    from = g_nev;
    rig_hello(10000, 501, rig_channel(), 0); /* repeated Hello: same assignment */
    e = wait_config(501, from);
    CHECK(e >= 0 && g_ev[e].producer == 31000);
    from = g_nev;
    rig_hello(10000, 503, rig_channel(), 0); /* exhausted: declined (D-11.d) */
    e = wait_config(503, from);
    CHECK(e >= 0 && g_ev[e].producer == 0 && g_ev[e].msg[0] == '\0');
    /* ... followed by ControlResponse REJECTED addressed to it (W-P2, W-P1) */
    int r = -1;
    for (int tries = 0; tries < 500 && r < 0; tries++) {
        for (int i = from; i < g_nev && r < 0; i++)
            if (g_ev[i].kind == 'E' && g_ev[i].client == 503) r = i;
        if (r < 0) rig_pump(2);
    }
    CHECK(r >= 0 && g_ev[r].stream == 10000 && g_ev[r].code == TP_CONTROL_RESPONSE_CODE_REJECTED &&
          strstr(g_ev[r].msg, "range exhausted") != NULL);
    from = g_nev;
    rig_hello(10000, 504, rig_channel(), 31500); /* explicit id: not the driver's business */
    rig_pump(30);
    CHECK(wait_config(504, from) < 0);
    /* a consumer's lease ending frees its id: attach as client 502, detach, and 31001 is free again */
    const int a = rig_attach_wait(10000, 502, C);
    CHECK(a >= 0 && g_ev[a].code == 0);
    if (a >= 0) {
        const int64_t d = rig_detach(g_ev[a].lease, 10000, 502, C);
        CHECK(rig_wait('D', d, a, 2000) >= 0);
    }
    from = g_nev;
    rig_hello(10000, 505, rig_channel(), 0);
    e = wait_config(505, from);
    CHECK(e >= 0 && g_ev[e].producer == 31001);
    rig_teardown();
    /* D-11.c, §5.5: no range configured: the request is turned down by
     * pointing the consumer at the shared channel and stream ids (descriptors
     * 1100, control = the driver's control stream 1000), not at 0. */
    rig_setup(NULL);
    from = g_nev;
    rig_hello(10000, 501, rig_channel(), 0);
    e = wait_config(501, from);
    CHECK(e >= 0 && g_ev[e].producer == 1100 && strcmp(g_ev[e].msg, rig_channel()) == 0);
    CHECK(e >= 0 && g_ev[e].ctl_id == 0 && g_ev[e].ctl_channel[0] == '\0'); /* control not asked for */
    from = g_nev;
    rig_hello2(10000, 502, rig_channel(), 0, rig_channel(), 0);
    e = wait_config(502, from);
    CHECK(e >= 0 && g_ev[e].producer == 1100 && strcmp(g_ev[e].msg, rig_channel()) == 0);
    CHECK(e >= 0 && g_ev[e].ctl_id == 1000 && strcmp(g_ev[e].ctl_channel, rig_channel()) == 0);
    rig_teardown();
    /* D-11.c/d per kind: the control range is set and picked from (then
     * exhausted: 0 and an empty channel), the missing descriptor range gives
     * the shared descriptor stream. */
    rig_setup("[driver]\ncontrol_stream_id_range = \"32000\"\n");
    from = g_nev;
    rig_hello2(10000, 601, rig_channel(), 0, rig_channel(), 0);
    e = wait_config(601, from);
    CHECK(e >= 0 && g_ev[e].producer == 1100 && strcmp(g_ev[e].msg, rig_channel()) == 0);
    CHECK(e >= 0 && g_ev[e].ctl_id == 32000 && strcmp(g_ev[e].ctl_channel, rig_channel()) == 0);
    from = g_nev;
    rig_hello2(10000, 602, rig_channel(), 0, rig_channel(), 0);
    e = wait_config(602, from);
    CHECK(e >= 0 && g_ev[e].producer == 1100 && strcmp(g_ev[e].msg, rig_channel()) == 0);
    CHECK(e >= 0 && g_ev[e].ctl_id == 0 && g_ev[e].ctl_channel[0] == '\0');
    rig_teardown();
    /* D-11.c: "the shared stream" is the one the deployment uses, not a
     * constant: clients moved to 1101 (DRIVER_DESCRIPTOR_STREAM_ID) are
     * pointed at 1101 by a driver configured the same way. */
    rig_setup("[driver]\ndescriptor_stream_id = 1101\n");
    from = g_nev;
    rig_hello(10000, 701, rig_channel(), 0);
    e = wait_config(701, from);
    CHECK(e >= 0 && g_ev[e].producer == 1101 && strcmp(g_ev[e].msg, rig_channel()) == 0);
    rig_teardown();
}

/* Bad input from outside is an error, never a crash (docs/architecture.md): random and
 * mutated schema-901 messages of every template; the driver keeps serving. */
static void test_random_requests_never_crash(void)
{
    rig_setup("shutdown_token = \"s3cret\"\nallow_dynamic_streams = true\n[driver]\nstream_id_range = \"20000-20010\"\n");
    unsigned seed = 99;
    uint8_t msg[256];
    for (int i = 0; i < 20000; i++) {
        const int64_t corr = rig_attach(rand_r(&seed) % 3 ? 10000 : (uint32_t)rand_r(&seed), (uint32_t)rand_r(&seed),
                                        (uint8_t)(rand_r(&seed) % 4), (uint32_t)(rand_r(&seed) % 3),
                                        (uint8_t)rand_r(&seed), (uint8_t)(rand_r(&seed) % 4), (uint32_t)rand_r(&seed));
        (void)corr;
        /* then a message of a random driver template, partly random bytes */
        size_t n = (size_t)(rand_r(&seed) % (int)sizeof msg);
        for (size_t k = 0; k < n; k++) msg[k] = (uint8_t)rand_r(&seed);
        if (n >= 8) {
            msg[2] = (uint8_t)(1 + rand_r(&seed) % 8);
            msg[3] = 0;
            msg[4] = 0x85; /* schema 901 */
            msg[5] = 0x03;
            msg[6] = (uint8_t)(rand_r(&seed) % 3);
            msg[7] = 0;
            if (rand_r(&seed) % 2) { msg[0] = (uint8_t)(rand_r(&seed) % 2 ? 27 : 25); msg[1] = 0; }
        }
        tp_ipc_publication_offer(g_rig_pub, msg, n);
        if (i % 64 == 0) {
            for (int k = 0; k < 16 && tp_driver_do_work(g_drv, tp_clock_monotonic_ns()) > 0; k++) {
            }
            g_nev = 0; /* keep the event log small */
            tp_ipc_subscription_poll(g_rig_sub, rig_on_msg, NULL, 1024);
            g_nev = 0;
        }
    }
    rig_pump(50);
    g_nev = 0;
    CHECK(!tp_driver_is_stopped(g_drv));
    const int a = rig_attach_wait(10000, 4000000001u, C);
    CHECK(a >= 0 && g_ev[a].code == 0);
    rig_teardown();
}

/* D-4.2.a, D-4.2.g: every ShmAttachRequest gets exactly one
 * ShmAttachResponse, and it carries the request's correlationId bit for bit,
 * whatever the client chose (extremes, negative, zero), OK or not. */
static void test_correlation_id_echoed(void)
{
    rig_setup(NULL);
    static const struct {
        int64_t corr;
        uint32_t stream, client;
        int32_t code;
    } cases[] = {
        {INT64_MIN, 10000, 41, TP_DRIVER_RESPONSE_CODE_OK},
        {-1, 10000, 42, TP_DRIVER_RESPONSE_CODE_OK},
        {INT64_MAX, 10000, 43, TP_DRIVER_RESPONSE_CODE_OK},
        {0, 10000, 44, TP_DRIVER_RESPONSE_CODE_OK},
        {(int64_t)0x8000000000000001ull, 10000, 45, TP_DRIVER_RESPONSE_CODE_OK},
        {0x0123456789ABCDEFll, 20001, 46, TP_DRIVER_RESPONSE_CODE_REJECTED}, /* not provisioned */
        {-2, 10000, 0, TP_DRIVER_RESPONSE_CODE_INVALID_PARAMS},             /* client id 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int from = g_nev;
        rig_attach_corr(cases[i].corr, cases[i].stream, cases[i].client, C, 1, 1, 0, NONODE);
        int a = -1;
        const int64_t end = tp_clock_monotonic_ns() + 2000000000LL;
        while (a < 0 && tp_clock_monotonic_ns() < end) {
            rig_pump(2);
            for (int k = from; k < g_nev && a < 0; k++)
                if (g_ev[k].kind == 'A') a = k;
        }
        CHECK(a >= 0);
        if (a < 0) continue;
        CHECK_EQ_I64(g_ev[a].corr, cases[i].corr);
        CHECK_EQ_I64(g_ev[a].code, cases[i].code);
        rig_pump(20);
        CHECK_EQ_I64(count_kind('A', from), 1); /* one answer per request */
    }
    rig_teardown();
}

static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) return 0;
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n == 0;
}

/* D-9.a: the driver applies the filesystem rules of docs/spec/wire.md §5.7 itself.
 * Confinement: a base_dir outside shm.allowed_base_dirs, or one inside it
 * that is a symlink leading outside, is refused at open, and nothing is
 * created there; one inside that does not exist yet is created. No symlink is followed
 * on the way to the region files: a stream directory planted as a symlink
 * makes the attach fail and nothing is written where it points. Hugepage
 * enforcement: require_hugepages on tmpfs is REJECTED. */
static void test_filesystem_rules(void)
{
    char root[64], allowed[128], outside[128], link[160], extra[300];
    snprintf(root, sizeof root, "/dev/shm/tp-drvfs-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    snprintf(allowed, sizeof allowed, "%s/allowed", root);
    snprintf(outside, sizeof outside, "%s/outside", root);
    snprintf(link, sizeof link, "%s/link", allowed);
    CHECK(mkdir(allowed, 0770) == 0 && mkdir(outside, 0770) == 0 && symlink(outside, link) == 0);
    snprintf(extra, sizeof extra, "[shm]\nallowed_base_dirs = [\"%s\"]\n", allowed);

    tp_driver_t *d = NULL;
    tp_driver_config_t *cfg = rig_config(extra);
    snprintf(cfg->base_dir, sizeof cfg->base_dir, "%s", outside);
    CHECK_EQ_I64(tp_driver_open(&d, cfg, NULL), -1);
    CHECK(d == NULL && tp_errcode() == TP_ERR_PERMISSION);
    CHECK(dir_is_empty(outside));
    cfg = rig_config(extra);
    snprintf(cfg->base_dir, sizeof cfg->base_dir, "%s", link);
    CHECK_EQ_I64(tp_driver_open(&d, cfg, NULL), -1); /* the symlink is not followed */
    CHECK(d == NULL);
    CHECK(dir_is_empty(outside));

    /* A base_dir that does not exist yet, inside the allowed one: created. */
    char fresh[200];
    snprintf(fresh, sizeof fresh, "%s/fresh/base", allowed);
    cfg = rig_config(extra);
    snprintf(cfg->base_dir, sizeof cfg->base_dir, "%s", fresh);
    CHECK_EQ_I64(tp_driver_open(&d, cfg, NULL), 0);
    tp_driver_close(d, 0, NULL);
    d = NULL;
    struct stat st;
    CHECK(stat(fresh, &st) == 0 && S_ISDIR(st.st_mode));
    /* An allowed dir that does not exist yet either, with base_dir below it. */
    char later[128], extra2[300];
    snprintf(later, sizeof later, "%s/later", root);
    snprintf(extra2, sizeof extra2, "[shm]\nallowed_base_dirs = [\"%s\"]\n", later);
    cfg = rig_config(extra2);
    snprintf(cfg->base_dir, sizeof cfg->base_dir, "%s/x", later);
    CHECK_EQ_I64(tp_driver_open(&d, cfg, NULL), 0);
    tp_driver_close(d, 0, NULL);
    d = NULL;
    nftw(later, rig_rm, 16, FTW_DEPTH | FTW_PHYS);

    /* A stream directory that is a symlink to outside. */
    char user[64], ns_dir[400], stream_dir[420];
    CHECK(tp_shm_user_effective(user, sizeof user) > 0);
    snprintf(ns_dir, sizeof ns_dir, "%s/tensorpool-%s/default", allowed, user);
    char epoch_dir[500];
    CHECK(tp_shm_dir_epoch_path(epoch_dir, sizeof epoch_dir, allowed, user, "default", 10001, 1) > 0);
    CHECK_EQ_I64(tp_shm_dir_create(epoch_dir), 0); /* makes ns_dir */
    snprintf(stream_dir, sizeof stream_dir, "%s/10000", ns_dir);
    CHECK(symlink(outside, stream_dir) == 0);

    snprintf(g_rig_dir, sizeof g_rig_dir, "%s", allowed);
    g_nev = 0;
    cfg = rig_config(extra);
    snprintf(cfg->base_dir, sizeof cfg->base_dir, "%s", allowed);
    CHECK_EQ_I64(tp_driver_open(&g_drv, cfg, NULL), 0);
    if (g_drv == NULL) return;
    rig_open_transport();
    const int a = rig_attach_wait(10000, 11, P);
    CHECK(a >= 0 && g_ev[a].code != TP_DRIVER_RESPONSE_CODE_OK && g_ev[a].ring_uri[0] == '\0');
    CHECK(dir_is_empty(outside));
    CHECK(lstat(stream_dir, &st) == 0 && S_ISLNK(st.st_mode)); /* left as it was */
    const int64_t corr = rig_attach(10000, 12, C, 1, 1, 2 /* REQUIRED */, NONODE);
    const int h = rig_wait('A', corr, 0, 2000);
    CHECK(h >= 0 && g_ev[h].code == TP_DRIVER_RESPONSE_CODE_REJECTED);
    rig_teardown(); /* removes allowed/ (symlinks themselves, not their targets) */
    CHECK(dir_is_empty(outside));
    CHECK(rmdir(outside) == 0 && rmdir(root) == 0);
}

int main(void)
{
    RUN(test_producer_then_consumer);
    RUN(test_second_producer_rejected);
    RUN(test_consumer_first_then_producer_bumps);
    RUN(test_parameter_validation_codes);
    RUN(test_identity_rules);
    RUN(test_keepalive_and_expiry);
    RUN(test_lease_bound_to_its_publication);
    RUN(test_producer_expiry_bumps_epoch);
    RUN(test_broken_region_rolls_epoch);
    RUN(test_detach_rules);
    RUN(test_dynamic_streams);
    RUN(test_shutdown_requests);
    RUN(test_restart_epochs_and_old_leases);
    RUN(test_epoch_gc);
    RUN(test_persisted_epoch_honoured);
    RUN(test_epoch_never_wraps);
    RUN(test_admin_revoke_and_embedded);
    RUN(test_attach_wakes_a_parked_driver);
    RUN(test_random_requests_never_crash);
    RUN(test_per_consumer_stream_authority);
    RUN(test_correlation_id_echoed);
    RUN(test_filesystem_rules);
    TP_TEST_END();
}
