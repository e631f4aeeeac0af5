/* Stream metadata across processes (docs/spec/wire.md §10.3): an SHM
 * driver, a producer, a consumer, a hostile publisher on the metadata stream
 * and `tp stat --meta`, each its own process.
 *
 *  - the consumer receives the producer's DataSourceAnnounce (name, summary),
 *    its attributes and a 150 000-byte meta blob reassembled from three
 *    chunks with its CRC32C checked (W-10.3.1.a, W-10.3.2.a, W-10.3.3.a, D-18);
 *  - the producer changes its attributes mid-stream: meta_version goes up
 *    (W-10.3.2.b) and every frame the consumer reads names the version the
 *    producer committed it under (stamped in the payload), and says it is
 *    held once the consumer has it;
 *  - the hostile process sends oversized, malformed, truncated metadata and
 *    blobs with a gap, an overlap past the end, a bad checksum and an
 *    oversized length: each is refused and counted, and the attributes and
 *    blob held stay as they were;
 *  - `tp stat --meta 1 --json` prints the name, version, attributes and blob.
 * usage: meta_multiprocess_test TP_BINARY */
#include "forked_driver.h"
#include "tp_test.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/consumer.h"
#include "tensorpool/ipc.h"
#include "tensorpool/producer.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define MS 1000000LL
#define STREAM 1
#define BLOB_LEN 150000
#define WAIT (30000 * MS) /* bound on waits: a loaded machine is slow, not wrong */

typedef struct {
    _Atomic int stop;
    _Atomic int bump;        /* parent -> producer: change the attributes */
    _Atomic int hostile_go;  /* parent -> hostile: send the bad messages */
    _Atomic int hostile_done;
    /* consumer's view */
    _Atomic int announce_ok;     /* name and summary as the producer set them */
    _Atomic uint32_t attrs_version;
    _Atomic uint32_t units_is_m; /* the version-3 attribute value */
    _Atomic int blob_ok;         /* held, right type, length and bytes */
    _Atomic uint32_t blob_events;
    _Atomic uint64_t frames, frames_mismatch, frames_v3_current;
    _Atomic uint64_t refused_malformed, refused_oversized, blob_oversized, blob_gap, blob_overlap, blob_checksum,
        blob_malformed;
} shared_t;

static shared_t *sh;
static const char *tp_bin;
static char dir[256];
static pid_t kids[8];
static int nkids;

static uint8_t blob_byte(size_t i) { return (uint8_t)(i * 31 + (i >> 10)); }

static void producer_main(void)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    ctx.qos_interval_ns = 200 * MS; /* metadata and blob repeat 5 times a second */
    tp_producer_t *p = NULL;
    if (tp_producer_open(&p, &ctx, STREAM, 0, "cam-meta", "metadata test camera") != 0) _exit(10);
    const tp_meta_attr_t v1[2] = {{"units", "text/plain", "mm", 2}, {"fx", "text/plain", "600.5", 5}};
    if (tp_producer_set_meta(p, v1, 2) != 0) _exit(11);
    static uint8_t blob[BLOB_LEN];
    for (size_t i = 0; i < sizeof blob; i++) blob[i] = blob_byte(i);
    if (tp_producer_set_meta_blob(p, 5, blob, sizeof blob) != 0) _exit(12); /* version 2 */
    tp_tensor_header_t t;
    const int32_t dims[1] = {4};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    int bumped = 0;
    int64_t next = 0;
    while (!atomic_load(&sh->stop)) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_producer_do_work(p, now);
        if (!bumped && atomic_load(&sh->bump)) {
            const tp_meta_attr_t v3[2] = {{"units", "text/plain", "m", 1}, {"gain", "text/plain", "2", 1}};
            if (tp_producer_set_meta(p, v3, 2) != 0) _exit(13);
            bumped = 1;
        }
        if (tp_producer_is_active(p) && now >= next) {
            next = now + 2 * MS;
            const uint32_t v = tp_producer_meta_version(p); /* the version this frame is committed under */
            tp_producer_offer(p, &t, &v, 4, (uint64_t)now, NULL);
        }
        sleep_ns(200000);
    }
    tp_producer_close(p);
    _exit(0);
}

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)clientd;
    uint32_t stamped;
    if (f->len != 4) return;
    memcpy(&stamped, f->payload, 4);
    if (!tp_frame_intact(f)) return;
    atomic_fetch_add(&sh->frames, 1);
    if (stamped != f->meta_version) atomic_fetch_add(&sh->frames_mismatch, 1);
    if (f->meta_version == 3 && f->meta_current) atomic_fetch_add(&sh->frames_v3_current, 1);
}

static void on_meta(void *clientd, const tp_meta_store_t *s, tp_meta_event_t ev)
{
    (void)clientd;
    (void)s;
    if (ev == TP_META_EVENT_BLOB) atomic_fetch_add(&sh->blob_events, 1);
}

static void consumer_publish(const tp_meta_store_t *s)
{
    tp_meta_source_t src;
    atomic_store(&sh->announce_ok, tp_meta_source(s, &src) && strcmp(src.name, "cam-meta") == 0 &&
                                       strcmp(src.summary, "metadata test camera") == 0);
    atomic_store(&sh->attrs_version, tp_meta_version(s));
    tp_meta_attr_view_t v;
    atomic_store(&sh->units_is_m, tp_meta_find(s, "units", &v) == 0 && strcmp((const char *)v.value, "m") == 0);
    tp_meta_blob_view_t b;
    int ok = tp_meta_blob(s, &b) && b.blob_type == 5 && b.len == BLOB_LEN && b.checksum != 0;
    for (size_t i = 0; ok && i < BLOB_LEN; i += 997) ok = b.data[i] == blob_byte(i);
    atomic_store(&sh->blob_ok, ok);
    tp_meta_counters_t c;
    tp_meta_counters(s, &c);
    atomic_store(&sh->refused_malformed, c.refused_malformed);
    atomic_store(&sh->refused_oversized, c.refused_oversized);
    atomic_store(&sh->blob_oversized, c.blob_oversized);
    atomic_store(&sh->blob_gap, c.blob_gap);
    atomic_store(&sh->blob_overlap, c.blob_overlap);
    atomic_store(&sh->blob_checksum, c.blob_checksum);
    atomic_store(&sh->blob_malformed, c.blob_malformed);
}

static void consumer_main(void)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_consumer_t *c = NULL;
    if (tp_consumer_open(&c, &ctx, STREAM, 0) != 0) _exit(20);
    tp_meta_limits_t lim;
    tp_meta_limits_init(&lim);
    lim.max_attr_bytes = 16 * 1024; /* configured below the default */
    if (tp_consumer_set_meta_limits(c, &lim) != 0) _exit(21);
    tp_consumer_on_meta(c, on_meta, NULL);
    int64_t next = 0;
    while (!atomic_load(&sh->stop)) {
        const int64_t now = tp_clock_monotonic_ns();
        if (tp_consumer_poll(c, now, on_frame, NULL, 64) == 0) sleep_ns(200000);
        if (now >= next) {
            next = now + 20 * MS;
            consumer_publish(tp_consumer_meta(c));
        }
    }
    tp_consumer_close(c);
    _exit(0);
}

/* ---- the hostile publisher: bad metadata for the same stream ---- */

static uint8_t hbuf[70000];

static long meta_msg(uint32_t version, unsigned count, const char *key, size_t value_len)
{
    static uint8_t value[4096];
    tp_control_data_source_meta_enc_t e;
    tp_control_data_source_meta_encode_begin(&e, hbuf, sizeof hbuf);
    tp_control_data_source_meta_set_stream_id(&e, STREAM);
    tp_control_data_source_meta_set_meta_version(&e, version);
    tp_control_data_source_meta_set_timestamp_ns(&e, 1);
    tp_control_data_source_meta_attributes_encode_begin(&e, (uint16_t)count);
    for (unsigned i = 0; i < count; i++) {
        tp_control_data_source_meta_attributes_encode_next(&e);
        tp_control_data_source_meta_attributes_put_key(&e, key, strlen(key));
        tp_control_data_source_meta_attributes_put_format(&e, "", 0);
        tp_control_data_source_meta_attributes_put_value(&e, value, value_len);
    }
    return tp_control_data_source_meta_encode_end(&e);
}

static long blob_announce(uint32_t version, uint64_t total, uint64_t crc)
{
    tp_control_meta_blob_announce_enc_t e;
    tp_control_meta_blob_announce_encode_begin(&e, hbuf, sizeof hbuf);
    tp_control_meta_blob_announce_set_stream_id(&e, STREAM);
    tp_control_meta_blob_announce_set_meta_version(&e, version);
    tp_control_meta_blob_announce_set_blob_type(&e, 5);
    tp_control_meta_blob_announce_set_total_len(&e, total);
    tp_control_meta_blob_announce_set_checksum(&e, crc);
    return tp_control_meta_blob_announce_encode_end(&e);
}

static long blob_chunk(uint32_t version, uint64_t off, size_t len)
{
    static const uint8_t junk[64] = {1, 2, 3};
    tp_control_meta_blob_chunk_enc_t e;
    tp_control_meta_blob_chunk_encode_begin(&e, hbuf, sizeof hbuf);
    tp_control_meta_blob_chunk_set_stream_id(&e, STREAM);
    tp_control_meta_blob_chunk_set_meta_version(&e, version);
    tp_control_meta_blob_chunk_set_chunk_offset(&e, off);
    tp_control_meta_blob_chunk_put_bytes(&e, junk, len);
    return tp_control_meta_blob_chunk_encode_end(&e);
}

static long blob_complete(uint32_t version, uint64_t crc)
{
    tp_control_meta_blob_complete_enc_t e;
    tp_control_meta_blob_complete_encode_begin(&e, hbuf, sizeof hbuf);
    tp_control_meta_blob_complete_set_stream_id(&e, STREAM);
    tp_control_meta_blob_complete_set_meta_version(&e, version);
    tp_control_meta_blob_complete_set_checksum(&e, crc);
    return tp_control_meta_blob_complete_encode_end(&e);
}

static void hostile_main(void)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = ctx.base_dir;
    ipc.namespace_name = ctx.ns;
    tp_ipc_publication_t *pub = NULL;
    if (tp_ipc_publication_open(&pub, &ipc, ctx.channel, ctx.metadata_stream_id) != 0) _exit(30);
    while (!atomic_load(&sh->hostile_go) && !atomic_load(&sh->stop)) sleep_ns(5 * MS);
    long n;
#define SEND(expr)                                                                                                     \
    do {                                                                                                               \
        n = (expr);                                                                                                    \
        if (n > 0) tp_ipc_publication_offer(pub, hbuf, (size_t)n);                                                     \
        sleep_ns(1 * MS);                                                                                              \
    } while (0)
    SEND(meta_msg(90, 100, "k", 1));         /* 100 attributes: above the default 64 */
    SEND(meta_msg(91, 20, "k", 1000));       /* 20 000 bytes: above the consumer's 16 KiB */
    SEND(meta_msg(92, 1, "bad\nkey", 1));    /* a control character in a key */
    SEND(meta_msg(93, 1, "", 1));            /* an empty key */
    n = meta_msg(94, 2, "k", 10);            /* truncated in the middle of the group */
    if (n > 0) tp_ipc_publication_offer(pub, hbuf, (size_t)n - 7);
    SEND(blob_announce(95, 1ull << 40, 0)); /* oversized */
    SEND(blob_announce(96, 1000, 0));        /* gap: the first chunk starts at 10 */
    SEND(blob_chunk(96, 10, 64));
    SEND(blob_announce(97, 32, 0));          /* overlap past total_len */
    SEND(blob_chunk(97, 0, 64));
    SEND(blob_announce(98, 64, 0x1234));     /* checksum mismatch */
    SEND(blob_chunk(98, 0, 64));
    SEND(blob_complete(98, 0x1234));
    SEND(blob_chunk(99, 0, 8));              /* a chunk with no announce */
    tp_ipc_publication_close(pub);
    atomic_store(&sh->hostile_done, 1);
    _exit(0);
}

static pid_t spawn_fn(void (*fn)(void))
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        fn();
        _exit(0);
    }
    kids[nkids++] = pid;
    return pid;
}

/* Run cmd, its output into out (printed too); its exit status, or -1. */
static int capture(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    if (f == NULL) return -1;
    const size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fputs(out, stdout);
    const int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define WAIT_FOR(cond)                                                                                                 \
    do {                                                                                                               \
        const int64_t end_ = tp_clock_monotonic_ns() + WAIT;                                                           \
        while (!(cond) && tp_clock_monotonic_ns() < end_) sleep_ns(10 * MS);                                           \
    } while (0)

static void test_metadata_across_processes(void) /* W-10.3.1.a, W-10.3.2.a, W-10.3.2.b, W-10.3.3.a, W-15.9.a, D-18 */
{
    static const char toml[] = "[driver]\ninstance_id = \"meta-test\"\n"
                               "[profiles.p]\nheader_nslots = 64\npayload_pools = [ { pool_id = 1, stride_bytes = 256 } ]\n"
                               "[streams.cam]\nstream_id = 1\nprofile = \"p\"\n";
    kids[nkids++] = spawn_toml_driver(toml, &sh->stop);
    sleep_ns(100 * MS);
    spawn_fn(consumer_main);
    spawn_fn(producer_main);
    spawn_fn(hostile_main);
    /* name, attributes and the blob arrive; frames name version 2 */
    WAIT_FOR(atomic_load(&sh->announce_ok) && atomic_load(&sh->attrs_version) == 2 && atomic_load(&sh->blob_ok) &&
             atomic_load(&sh->frames) > 50);
    CHECK(atomic_load(&sh->announce_ok));
    CHECK_EQ_U64(atomic_load(&sh->attrs_version), 2);
    CHECK(atomic_load(&sh->blob_ok));
    /* mid-stream change: version 3 reaches the consumer and its frames */
    atomic_store(&sh->bump, 1);
    WAIT_FOR(atomic_load(&sh->attrs_version) == 3 && atomic_load(&sh->units_is_m) &&
             atomic_load(&sh->frames_v3_current) > 50);
    CHECK_EQ_U64(atomic_load(&sh->attrs_version), 3);
    CHECK(atomic_load(&sh->units_is_m));
    CHECK(atomic_load(&sh->frames_v3_current) > 50);
    /* hostile metadata: refused, counted, nothing held changes */
    atomic_store(&sh->hostile_go, 1);
    WAIT_FOR(atomic_load(&sh->hostile_done) && atomic_load(&sh->refused_oversized) >= 2 &&
             atomic_load(&sh->refused_malformed) >= 3 && atomic_load(&sh->blob_oversized) >= 1 &&
             atomic_load(&sh->blob_gap) >= 1 && atomic_load(&sh->blob_overlap) >= 1 &&
             atomic_load(&sh->blob_checksum) >= 1 && atomic_load(&sh->blob_malformed) >= 1);
    CHECK(atomic_load(&sh->hostile_done));
    CHECK(atomic_load(&sh->refused_oversized) >= 2);
    CHECK(atomic_load(&sh->refused_malformed) >= 3);
    CHECK(atomic_load(&sh->blob_oversized) >= 1);
    CHECK(atomic_load(&sh->blob_gap) >= 1);
    CHECK(atomic_load(&sh->blob_overlap) >= 1);
    CHECK(atomic_load(&sh->blob_checksum) >= 1);
    CHECK(atomic_load(&sh->blob_malformed) >= 1);
    sleep_ns(300 * MS); /* a little more traffic after the attack */
    CHECK_EQ_U64(atomic_load(&sh->attrs_version), 3);
    CHECK(atomic_load(&sh->units_is_m));
    CHECK(atomic_load(&sh->blob_ok));
    CHECK_EQ_U64(atomic_load(&sh->frames_mismatch), 0); /* every frame named the version it was committed under */
    /* tp stat --meta in its own process */
    static char out[8192];
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s stat --meta 1 --json --wait 20 %s", tp_bin, dir);
    CHECK_EQ_I64(capture(cmd, out, sizeof out), 0);
    CHECK(strstr(out, "\"name\":\"cam-meta\"") != NULL);
    CHECK(strstr(out, "\"meta_version\":3,\"attributes_version\":3") != NULL);
    CHECK(strstr(out, "{\"key\":\"units\",\"format\":\"text/plain\",\"value\":\"m\"}") != NULL);
    CHECK(strstr(out, "\"blob_type\":5,\"len\":150000") != NULL);
    snprintf(cmd, sizeof cmd, "%s stat --meta 1 --wait 20 %s", tp_bin, dir); /* the text view */
    CHECK_EQ_I64(capture(cmd, out, sizeof out), 0);
    CHECK(strstr(out, "stream 1 \"cam-meta\" (metadata test camera): producer ") != NULL);
    CHECK(strstr(out, "  attributes (version 3): 2\n    units [text/plain] = m\n    gain [text/plain] = 2\n") != NULL);
    CHECK(strstr(out, "  blob: type 5, 150000 bytes, crc32c 0x") != NULL);
    snprintf(cmd, sizeof cmd, "%s stat --meta 2 --wait 0.5 %s 2>&1", tp_bin, dir); /* no such stream */
    CHECK_EQ_I64(capture(cmd, out, sizeof out), 1);
    CHECK(strstr(out, "no DataSourceAnnounce of stream 2") != NULL);
    atomic_store(&sh->stop, 1);
    for (int i = 0; i < nkids; i++) {
        int st = 0;
        const int64_t end = tp_clock_monotonic_ns() + 10000 * MS;
        while (waitpid(kids[i], &st, WNOHANG) == 0) {
            if (tp_clock_monotonic_ns() > end) {
                kill(kids[i], SIGKILL);
                waitpid(kids[i], &st, 0);
                break;
            }
            sleep_ns(10 * MS);
        }
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    nkids = 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s TP_BINARY\n", argv[0]);
        return 2;
    }
    tp_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/dev/shm/tp-meta-%d-XXXXXX", (int)getpid());
    if (mkdtemp(dir) == NULL) return 2;
    setenv("TP_DIR", dir, 1);
    setenv("POLICIES_LEASE_KEEPALIVE_INTERVAL_MS", "100", 1);
    setenv("POLICIES_LEASE_EXPIRY_GRACE_INTERVALS", "20", 1);
    setenv("POLICIES_ANNOUNCE_PERIOD_MS", "100", 1);
    setenv("TP_CLIENT_BACKOFF_MAX_MS", "200", 1);
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 2;
    RUN(test_metadata_across_processes);
    atomic_store(&sh->stop, 1);
    for (int i = 0; i < nkids; i++) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TP_TEST_END();
}
