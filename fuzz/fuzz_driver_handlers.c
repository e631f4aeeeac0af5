/* libFuzzer target: the driver's message handlers as a state machine.
 *
 * One live driver (temp base dir, two provisioned streams, a dynamic range,
 * per-consumer ranges, a shutdown token) is fed, through its real control
 * stream, a sequence of requests decoded from the fuzz input: attach,
 * keepalive, detach, shutdown request, ConsumerHello, raw bytes, and clock
 * steps, from two publications (two "clients"). Lease ids the driver grants
 * are learnt from its answers so that later requests can name them, right or
 * slightly wrong. After every duty cycle the lease table is checked:
 *   - leases_active equals the leases in use, ids are unique and non-zero;
 *   - every lease names a known stream, a valid role, and has not expired;
 *   - a stream's producer slot is empty or held by one live producer lease
 *     of that stream, and no stream has two producer leases.
 * Each input starts by moving the virtual clock 60 s ahead, so every lease
 * of the previous input expires and inputs do not depend on each other's
 * leases (the epochs go on rising, as they would on a long-running driver).
 */
#include "../src/driver/driver_impl.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/driver_config.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPUB 2
#define LEARN 16

typedef struct learnt_s {
    uint64_t lease;
    uint32_t stream, client;
    uint8_t role;
} learnt_t;

static struct {
    char dir[64];
    tp_driver_config_t cfg;
    tp_driver_t *d;
    tp_ipc_context_t ipc;
    tp_ipc_publication_t *pub[NPUB];
    tp_ipc_subscription_t *sub;
    int64_t now;
    int64_t corr_base;
    /* requests in flight: corr -> (client, role) */
    int64_t pending_corr[LEARN];
    uint32_t pending_client[LEARN];
    uint8_t pending_role[LEARN];
    learnt_t learnt[LEARN];
    unsigned nlearnt;
    uint8_t buf[4096];
} g;

static const char k_config[] =
    "[driver]\nstream_id_range = \"20000-20003\"\ndescriptor_stream_id_range = \"3000-3001\"\n"
    "control_stream_id_range = \"4000-4000\"\n"
    "[policies]\nlease_keepalive_interval_ms = 100\nannounce_period_ms = 100\nallow_dynamic_streams = true\n"
    "epoch_gc_enabled = true\nepoch_gc_keep = 1\nshutdown_token = \"fuzz\"\nshutdown_timeout_ms = 10\n"
    "node_id_reuse_cooldown_ms = 50\n"
    "[profiles.small]\nheader_nslots = 4\npayload_pools = [ { pool_id = 1, stride_bytes = 64 } ]\n"
    "[streams.a]\nstream_id = 10000\nprofile = \"small\"\n"
    "[streams.b]\nstream_id = 10001\nprofile = \"small\"\n";

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_driver_handlers: %s: %s\n", what, tp_errmsg());
    abort();
}

static void open_driver(void)
{
    if (tp_driver_open(&g.d, &g.cfg, NULL) != 0) fail("driver open");
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* libFuzzer ends with exit(): leave no temp dir behind. */
static void cleanup(void)
{
    tp_driver_close(g.d, 0, NULL);
    for (int i = 0; i < NPUB; i++) tp_ipc_publication_close(g.pub[i]);
    tp_ipc_subscription_close(g.sub);
    nftw(g.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    snprintf(g.dir, sizeof g.dir, "/dev/shm/tp-fuzz-driver-XXXXXX");
    if (mkdtemp(g.dir) == NULL) fail("mkdtemp");
    chmod(g.dir, 0770);
    tp_driver_config_defaults(&g.cfg);
    if (tp_driver_config_parse(&g.cfg, k_config, strlen(k_config)) != 0) fail("config");
    snprintf(g.cfg.base_dir, sizeof g.cfg.base_dir, "%s", g.dir);
    open_driver();
    tp_ipc_context_init(&g.ipc);
    g.ipc.base_dir = g.dir;
    for (int i = 0; i < NPUB; i++)
        if (tp_ipc_publication_open(&g.pub[i], &g.ipc, "tp:ipc", 1000) != 0) fail("publication");
    if (tp_ipc_subscription_open(&g.sub, &g.ipc, "tp:ipc", 1000) != 0) fail("subscription");
    g.now = tp_clock_monotonic_ns();
    atexit(cleanup);
}

/* ---- learning the driver's answers ---- */

static void on_answer(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)clientd;
    (void)info;
    tp_driver_shm_attach_response_dec_t a;
    if (tp_driver_shm_attach_response_decode(&a, buf, len) != 0 || tp_driver_shm_attach_response_code(&a) != 0) return;
    const int64_t corr = tp_driver_shm_attach_response_correlation_id(&a);
    for (unsigned i = 0; i < LEARN; i++) {
        if (g.pending_corr[i] != corr) continue;
        learnt_t *l = &g.learnt[g.nlearnt++ % LEARN];
        l->lease = tp_driver_shm_attach_response_lease_id(&a);
        l->stream = tp_driver_shm_attach_response_stream_id(&a);
        l->client = g.pending_client[i];
        l->role = g.pending_role[i];
        g.pending_corr[i] = 0;
        return;
    }
}

/* ---- invariants ---- */

static void check(void)
{
    const tp_driver_t *d = g.d;
    uint64_t in_use = 0;
    unsigned producers[DRV_MAX_STREAMS] = {0};
    for (unsigned i = 0; i < DRV_MAX_LEASES; i++) {
        const drv_lease_t *l = &d->leases[i];
        if (!l->in_use) continue;
        in_use++;
        if (l->lease_id == 0 || l->stream >= d->nstreams) abort();
        if (l->role != TP_DRIVER_ROLE_PRODUCER && l->role != TP_DRIVER_ROLE_CONSUMER) abort();
        if (d->state != DRV_STOPPED && l->expiry_ns < d->now_ns) abort(); /* the sweep ends expired leases */
        for (unsigned j = i + 1; j < DRV_MAX_LEASES; j++)
            if (d->leases[j].in_use && d->leases[j].lease_id == l->lease_id) abort();
        if (l->role == TP_DRIVER_ROLE_PRODUCER) {
            if (d->streams[l->stream].producer_lease != l->lease_id) abort();
            producers[l->stream]++;
        }
    }
    if (in_use != d->stats.leases_active) abort();
    for (unsigned s = 0; s < d->nstreams; s++) {
        if (producers[s] > 1) abort();
        if ((d->streams[s].producer_lease != 0) != (producers[s] == 1)) abort();
    }
}

static void cycle(void)
{
    tp_driver_do_work(g.d, g.now);
    tp_ipc_subscription_poll(g.sub, on_answer, NULL, 256);
    check();
    if (tp_driver_is_stopped(g.d)) { /* a right token was found: start a fresh driver */
        tp_driver_close(g.d, 0, NULL);
        g.d = NULL;
        open_driver();
    }
}

/* ---- requests ---- */

typedef struct input_s {
    const uint8_t *p;
    size_t n;
} input_t;

static uint8_t u8(input_t *in)
{
    if (in->n == 0) return 0;
    in->n--;
    return *in->p++;
}

static uint32_t u32(input_t *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = v << 8 | u8(in);
    return v;
}

static uint32_t pick_stream(input_t *in)
{
    static const uint32_t k[] = {10000, 10001, 0, 20001, 20004, 0xFFFFFFFFu, 1000};
    const uint8_t b = u8(in);
    return b < 200 ? k[b % 7] : u32(in);
}

/* A learnt lease, or one with some field changed (mutation in the low bits of
 * the selector), or none. */
static learnt_t pick_lease(input_t *in)
{
    const uint8_t b = u8(in);
    learnt_t l = {u32(in), 10000, 1, 2};
    if (g.nlearnt > 0 && b < 224) {
        l = g.learnt[(b >> 3) % (g.nlearnt < LEARN ? g.nlearnt : LEARN)];
        switch (b & 7) {
        case 1: l.lease++; break;
        case 2: l.stream ^= 1; break;
        case 3: l.client++; break;
        case 4: l.role ^= 3; break;
        default: break;
        }
    }
    return l;
}

static void send(input_t *in, long n)
{
    if (n > 0) tp_ipc_publication_offer(g.pub[u8(in) & 1], g.buf, (size_t)n);
}

static void req_attach(input_t *in)
{
    const int64_t corr = ++g.corr_base;
    const uint32_t client = u8(in) % 8;
    const uint8_t role = u8(in) % 4;
    tp_driver_shm_attach_request_enc_t e;
    tp_driver_shm_attach_request_encode_begin(&e, g.buf, sizeof g.buf);
    tp_driver_shm_attach_request_set_correlation_id(&e, corr);
    tp_driver_shm_attach_request_set_stream_id(&e, pick_stream(in));
    tp_driver_shm_attach_request_set_client_id(&e, client);
    tp_driver_shm_attach_request_set_role(&e, role);
    tp_driver_shm_attach_request_set_expected_layout_version(&e, u8(in) < 240 ? 1 : u8(in));
    tp_driver_shm_attach_request_set_publish_mode(&e, u8(in) % 4);
    tp_driver_shm_attach_request_set_require_hugepages(&e, u8(in) < 200 ? 0 : 2);
    tp_driver_shm_attach_request_set_desired_node_id(&e, u8(in) < 200 ? 0xFFFFFFFFu : u8(in));
    const unsigned slot = (unsigned)corr % LEARN;
    g.pending_corr[slot] = corr;
    g.pending_client[slot] = client;
    g.pending_role[slot] = role;
    send(in, tp_driver_shm_attach_request_encode_end(&e));
}

static void req_keepalive(input_t *in)
{
    const learnt_t l = pick_lease(in);
    tp_driver_shm_lease_keepalive_enc_t e;
    tp_driver_shm_lease_keepalive_encode_begin(&e, g.buf, sizeof g.buf);
    tp_driver_shm_lease_keepalive_set_lease_id(&e, l.lease);
    tp_driver_shm_lease_keepalive_set_stream_id(&e, l.stream);
    tp_driver_shm_lease_keepalive_set_client_id(&e, l.client);
    tp_driver_shm_lease_keepalive_set_role(&e, l.role);
    tp_driver_shm_lease_keepalive_set_client_timestamp_ns(&e, (uint64_t)g.now);
    send(in, tp_driver_shm_lease_keepalive_encode_end(&e));
}

static void req_detach(input_t *in)
{
    const learnt_t l = pick_lease(in);
    tp_driver_shm_detach_request_enc_t e;
    tp_driver_shm_detach_request_encode_begin(&e, g.buf, sizeof g.buf);
    tp_driver_shm_detach_request_set_correlation_id(&e, ++g.corr_base);
    tp_driver_shm_detach_request_set_lease_id(&e, l.lease);
    tp_driver_shm_detach_request_set_stream_id(&e, l.stream);
    tp_driver_shm_detach_request_set_client_id(&e, l.client);
    tp_driver_shm_detach_request_set_role(&e, l.role);
    send(in, tp_driver_shm_detach_request_encode_end(&e));
}

static void req_shutdown(input_t *in)
{
    const char *tok = u8(in) < 16 ? "fuzz" : "fuzy";
    tp_driver_shm_driver_shutdown_request_enc_t e;
    tp_driver_shm_driver_shutdown_request_encode_begin(&e, g.buf, sizeof g.buf);
    tp_driver_shm_driver_shutdown_request_set_correlation_id(&e, ++g.corr_base);
    tp_driver_shm_driver_shutdown_request_set_reason(&e, u8(in) % 4);
    tp_driver_shm_driver_shutdown_request_put_token(&e, tok, 4);
    tp_driver_shm_driver_shutdown_request_put_error_message(&e, "", 0);
    send(in, tp_driver_shm_driver_shutdown_request_encode_end(&e));
}

static void req_hello(input_t *in)
{
    const uint8_t b = u8(in);
    tp_control_consumer_hello_enc_t e;
    tp_control_consumer_hello_encode_begin(&e, g.buf, sizeof g.buf);
    tp_control_consumer_hello_set_stream_id(&e, pick_stream(in));
    tp_control_consumer_hello_set_consumer_id(&e, u8(in) % 8);
    tp_control_consumer_hello_set_supports_shm(&e, TP_CONTROL_BOOL_TRUE);
    tp_control_consumer_hello_set_supports_progress(&e, TP_CONTROL_BOOL_FALSE);
    tp_control_consumer_hello_set_mode(&e, TP_CONTROL_MODE_STREAM);
    tp_control_consumer_hello_set_max_rate_hz(&e, 0);
    tp_control_consumer_hello_set_expected_layout_version(&e, 1);
    tp_control_consumer_hello_set_progress_bytes_delta(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_progress_interval_us(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_progress_major_delta_units(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_descriptor_stream_id(&e, (b & 1) ? 0 : u8(in));
    tp_control_consumer_hello_set_control_stream_id(&e, (b & 2) ? 0 : u8(in));
    const char *dch = (b & 4) ? "tp:ipc" : "", *cch = (b & 8) ? "tp:ipc" : "";
    tp_control_consumer_hello_put_descriptor_channel(&e, dch, strlen(dch));
    tp_control_consumer_hello_put_control_channel(&e, cch, strlen(cch));
    send(in, tp_control_consumer_hello_encode_end(&e));
}

static void req_raw(input_t *in)
{
    size_t n = u8(in);
    if (n > in->n) n = in->n;
    memcpy(g.buf, in->p, n);
    in->p += n;
    in->n -= n;
    send(in, (long)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g.d == NULL) setup();
    g.now += 60000000000LL; /* every lease of the previous input expires */
    g.nlearnt = 0;
    cycle();
    input_t in = {data, size};
    for (int steps = 0; in.n > 0 && steps < 64; steps++) {
        switch (u8(&in) % 8) {
        case 0: req_attach(&in); break;
        case 1: req_keepalive(&in); break;
        case 2: req_detach(&in); break;
        case 3: req_shutdown(&in); break;
        case 4: req_hello(&in); break;
        case 5: req_raw(&in); break;
        case 6: g.now += (int64_t)u8(&in) * 5000000; break; /* up to 1.3 s */
        default: break; /* a cycle with nothing new */
        }
        cycle();
    }
    return 0;
}
