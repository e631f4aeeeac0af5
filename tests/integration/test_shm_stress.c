/* Multi-process seqlock stress (W-15.13.a "no torn reads under load",
 * W-8.3, §3.6, §5.5; §7 scenario 41 stress version). The producer overwrites
 * without waiting (W-15.4.a); gaps and seqlock instability are counted apart
 * (W-15.4.b).
 *
 * One writer process overwrites a 4-slot ring at full speed with
 * self-checking frames; three reader processes read it concurrently. Each
 * frame's payload (64..256 B) carries its seq, its length, seq-derived words
 * and a checksum; its header carries seq-derived dims, timestamp and
 * meta_version. An accepted frame that does not check out is a torn read the
 * seqlock failed to catch, and fails the test.
 *
 * Descriptor transport stand-in: the writer stores "frames published" in an
 * atomic counter in a small anonymous shared mapping after each commit (the
 * FrameDescriptor point, W-10.2.1.g). A reader polls it and takes the next
 * seq it will process as its descriptor:
 *   - "latest" readers take the newest published seq (a conflating stream);
 *   - the "sequential" reader takes last+1 unless it fell more than
 *     max_seq_gap behind, then jumps to the newest (W-15.4.d resync).
 * Readers are running before the writer starts and take seq 0 as their
 * first descriptor, so every published frame is a descriptor seen: the ones
 * a reader skipped count as drops_gap (§5.5), the ones it processed end as
 * accepted, drops_late or drops_invalid. The test checks
 *   accepted + drops_late + drops_invalid + drops_gap == last - first + 1
 * and that drops_invalid is 0 (a stable slot written by a correct producer is
 * never structurally invalid).
 *
 * W-8.3.e: a reader in another process that sees COMMITTED(seq) (published
 * after the commit) and a stable seq_commit never finds a payload other than
 * that frame's complete one (bad == 0): the payload stores are visible before
 * the COMMITTED store.
 */
#include "tensorpool/shm_seqlock.h"
#include "tp_test.h"
#include "unit/shm_test_rig.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

enum { NREADERS = 3, WORDS_MAX = 32, NSLOTS = 4, STRIDE = 256 };

typedef struct {
    uint64_t accepted, late, invalid, gap, first, last, resyncs;
    uint64_t bad;           /* accepted but mismatched: must stay 0 */
    uint64_t torn_detected; /* view content was wrong and end() said torn */
    uint64_t processed;
    int done;
} reader_result_t;

/* published and writer_done sit alone on their cache line: the readers poll
 * it, and nothing else may be written there (false sharing). */
typedef struct {
    _Alignas(64) _Atomic uint64_t published; /* frames committed so far; seq = published - 1 */
    _Atomic int writer_done;
    _Alignas(64) _Atomic int readers_ready;
    _Alignas(64) reader_result_t res[NREADERS];
} side_t;

static tp_test_rig_t rig;
static side_t *side;
static uint64_t g_frames = 10000000;

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint32_t frame_len(uint64_t seq) { return 64u + (uint32_t)(seq % 4) * 64u; }

/* Writer: fill the payload in place between claim and commit. */
static void run_writer(void)
{
    tp_tensor_header_t t;
    for (uint64_t seq = 0; seq < g_frames; seq++) {
        const uint32_t len = frame_len(seq);
        const int32_t dims[2] = {(int32_t)(len / 8), 1};
        tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
        tp_shm_claim_t c;
        if (tp_shm_writer_claim(&rig.w, &t, len, &c) != 0 || c.seq != seq) _exit(10);
        const unsigned n = len / 8;
        uint64_t sum = 0, w;
        w = seq;
        memcpy(c.payload, &w, 8);
        sum ^= w;
        w = len;
        memcpy(c.payload + 8, &w, 8);
        sum ^= w;
        for (unsigned i = 2; i < n - 1; i++) {
            w = mix(seq * 64 + i);
            memcpy(c.payload + 8 * i, &w, 8);
            sum ^= w;
        }
        memcpy(c.payload + 8 * (n - 1), &sum, 8);
        tp_shm_writer_commit(&rig.w, &c, seq * 3 + 1, (uint32_t)seq);
        atomic_store_explicit(&side->published, seq + 1, memory_order_release);
    }
    atomic_store_explicit(&side->writer_done, 1, memory_order_release);
    _exit(0);
}

/* 1 if the frame bytes and header are exactly those the writer made for seq. */
static int frame_ok(uint64_t seq, const tp_shm_view_t *v, const uint8_t *p)
{
    const uint32_t len = frame_len(seq);
    if (v->len != len || v->header.timestamp_ns != seq * 3 + 1 || v->header.meta_version != (uint32_t)seq ||
        v->header.tensor.dims[0] != (int32_t)(len / 8) || v->header.tensor.dtype != TP_CONTROL_DTYPE_UINT64)
        return 0;
    const unsigned n = len / 8;
    uint64_t w, sum = 0;
    memcpy(&w, p, 8);
    if (w != seq) return 0;
    sum ^= w;
    memcpy(&w, p + 8, 8);
    if (w != len) return 0;
    sum ^= w;
    for (unsigned i = 2; i < n - 1; i++) {
        memcpy(&w, p + 8 * i, 8);
        if (w != mix(seq * 64 + i)) return 0;
        sum ^= w;
    }
    memcpy(&w, p + 8 * (n - 1), 8);
    return w == sum;
}

/* mode 0: latest + zero-copy view; 1: sequential + copy-out; 2: latest + copy-out */
static void run_reader(int id, int mode)
{
    tp_shm_reader_t r;
    rig.rc.now_ns = tp_test_now_ns();
    rig.rc.max_seq_gap = mode == 1 ? 64 : 0;
    if (tp_shm_reader_open(&r, &rig.bases, &rig.rc) != 0) {
        fprintf(stderr, "reader %d: %s\n", id, tp_errmsg());
        _exit(20);
    }
    reader_result_t local = {0}, *res = &local; /* copied to the side mapping at the end */
    uint8_t copy[STRIDE];
    atomic_fetch_add(&side->readers_ready, 1);
    for (;;) {
        const int finished = atomic_load_explicit(&side->writer_done, memory_order_acquire);
        const uint64_t pub = atomic_load_explicit(&side->published, memory_order_acquire);
        if (pub == 0) continue;
        const uint64_t newest = pub - 1;
        uint64_t seq;
        if (!r.drops.have_last) seq = 0; /* readers start before the writer: every frame is seen */
        else if (newest <= r.drops.last_seq_seen) {
            if (finished) break;
            continue;
        } else if (mode == 1 && newest - r.drops.last_seq_seen <= r.drops.max_seq_gap) seq = r.drops.last_seq_seen + 1;
        else seq = newest;
        const tp_seq_action_t act = tp_shm_drops_on_descriptor(&r.drops, seq);
        if (act == TP_SEQ_DUPLICATE || act == TP_SEQ_REGRESSION) _exit(21); /* cannot happen here */
        res->processed++;
        tp_shm_view_t v;
        if (mode == 0) {
            if (tp_shm_reader_begin(&r, seq, &v) != TP_SHM_READ_OK) continue;
            const int good = frame_ok(seq, &v, v.payload); /* work on the live view */
            const tp_shm_read_t st = tp_shm_reader_end(&r, &v);
            if (st == TP_SHM_READ_OK && !good) res->bad++;
            if (st != TP_SHM_READ_OK && !good) res->torn_detected++;
        } else {
            const tp_shm_read_t st = tp_shm_reader_read(&r, seq, copy, sizeof copy, &v);
            if (st == TP_SHM_READ_OK && !frame_ok(seq, &v, copy)) res->bad++;
        }
    }
    res->accepted = r.drops.accepted;
    res->late = r.drops.drops_late;
    res->invalid = r.drops.drops_invalid;
    res->gap = r.drops.drops_gap;
    res->first = r.drops.first_seq;
    res->last = r.drops.last_seq_seen;
    res->resyncs = r.drops.resyncs;
    res->done = 1;
    side->res[id] = local;
    tp_shm_reader_close(&r);
    _exit(0);
}

static void test_stress(void)
{
    pid_t readers[NREADERS];
    for (int i = 0; i < NREADERS; i++) {
        fflush(NULL);
        readers[i] = fork();
        if (readers[i] == 0) run_reader(i, i);
    }
    while (atomic_load(&side->readers_ready) < NREADERS) {
        int st;
        if (waitpid(-1, &st, WNOHANG) > 0) break; /* a reader failed to open */
        usleep(1000);
    }
    fflush(NULL);
    const pid_t writer = fork();
    if (writer == 0) run_writer();
    int status;
    CHECK(waitpid(writer, &status, 0) == writer);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < NREADERS; i++) {
        CHECK(waitpid(readers[i], &status, 0) == readers[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK_EQ_U64(atomic_load(&side->published), g_frames);
    for (int i = 0; i < NREADERS; i++) {
        const reader_result_t *r = &side->res[i];
        printf("reader %d (%s): seen %" PRIu64 " = accepted %" PRIu64 " + late %" PRIu64 " + invalid %" PRIu64
               " + gap %" PRIu64 "; processed %" PRIu64 ", resyncs %" PRIu64 ", torn views caught %" PRIu64
               ", bad %" PRIu64 "\n",
               i, i == 0 ? "latest/view" : i == 1 ? "sequential/copy" : "latest/copy", r->last - r->first + 1,
               r->accepted, r->late, r->invalid, r->gap, r->processed, r->resyncs, r->torn_detected, r->bad);
        CHECK(r->done);
        CHECK_EQ_U64(r->bad, 0);     /* no torn or mismatched frame accepted */
        CHECK_EQ_U64(r->invalid, 0); /* D-15: stable slots of a correct producer */
        CHECK_EQ_U64(r->accepted + r->late + r->invalid + r->gap, r->last - r->first + 1); /* §5.5 */
        CHECK_EQ_U64(r->accepted + r->late + r->invalid, r->processed);
        CHECK_EQ_U64(r->first, 0);
        CHECK_EQ_U64(r->last, g_frames - 1); /* so every published frame is accounted for */
        CHECK(r->accepted > 0);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) g_frames = strtoull(argv[1], NULL, 10);
    const tp_shm_pool_config_t pool = {.pool_id = 1, .stride_bytes = STRIDE};
    if (tp_test_rig_writer(&rig, "stress", NSLOTS, 1, &pool) != 0) {
        fprintf(stderr, "rig: %s\n", tp_errmsg());
        return 1;
    }
    side = mmap(NULL, sizeof *side, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (side == MAP_FAILED) return 1;
    memset(side, 0, sizeof *side);
    alarm(300); /* a hang fails the test rather than the CI job */
    RUN(test_stress);
    tp_shm_writer_close(&rig.w, 1);
    tp_test_rmtree(rig.base);
    TP_TEST_END();
}
