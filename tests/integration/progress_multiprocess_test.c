/* Progressive frames across processes (docs/spec/wire.md W-10.2.2, §5.6,
 * D-24, W-10.1.2.c, W-10.1.2.d).
 *
 * A driver, a producer, an opted-in consumer and a hostile publisher run as
 * separate processes (fork, each with its own clients) on stream 10000,
 * whose pool holds 16 MiB frames (8 slots).
 *
 * The producer fills NFRAMES frames of 1024 rows x 16 KiB row by row,
 * reporting each row with tp_producer_progress, and commits each. Byte i of
 * row r of frame seq is (seq * 31 + r * 7 + i) & 0xFF; a byte not yet
 * written holds an older frame's value.
 *
 * The consumer checks every byte of every prefix it is given, once, against
 * that pattern: bytes_filled never exceeded, whole rows only, no byte that
 * is not final (a mismatch counts only if tp_progress_intact still says 1,
 * i.e. the slot was not reused under the check). It then gets each frame
 * whole through its descriptor.
 *
 * The hostile process (same uid, the strongest sender short of writing into
 * other logs) listens to the control stream for the producer's FrameProgress
 * and, every 50 ms, sends: a wrong epoch, a seq never written, a fill below what the
 * producer already reported as COMPLETE, and bytes_filled past the
 * frame's length for the frame before. The consumer must
 * refuse and count each cause, and none of it may reach its handler as a
 * prefix with a non-final byte. */
#include "tp_test.h"
#include "unit/driver_test_rig.h"

#include "client/progress_internal.h"

#include "tensorpool/consumer.h"
#include "tensorpool/frame_progress.h"
#include "tensorpool/producer.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define STREAM 10000u
#define ROWS 1024u
#define ROW_BYTES 16384u
#define FRAME (ROWS * ROW_BYTES) /* 16 MiB */
#define NFRAMES 12

typedef struct share_s {
    volatile int stop, producer_done, consumer_ready, consumer_done;
    volatile uint64_t published, epoch;
    /* consumer */
    volatile uint64_t calls, prefix_bytes_checked, bad_bytes, over_filled, torn, frames, frames_bad, max_rows_before_frame;
    tp_progress_counters_t pc;
    /* producer */
    volatile uint64_t sent, throttled, consumers_seen;
    /* hostile */
    volatile uint64_t attacks;
} share_t;

static share_t *g_sh;

static uint8_t pattern(uint64_t seq, uint64_t off)
{
    const uint64_t r = off / ROW_BYTES, i = off % ROW_BYTES;
    return (uint8_t)((seq * 31 + r * 7 + i) & 0xFF);
}

static void nap_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void client_ctx(tp_client_context_t *ctx)
{
    tp_client_context_init(ctx);
    snprintf(ctx->base_dir, sizeof ctx->base_dir, "%s", g_rig_dir);
    ctx->keepalive_interval_ns = 100000000;
    ctx->expiry_grace_intervals = 30;
    ctx->announce_period_ns = 500000000;
    ctx->qos_interval_ns = 200000000;
}

static void driver_main(void)
{
    static const char text[] =
        "[policies]\nlease_keepalive_interval_ms = 100\nlease_expiry_grace_intervals = 30\nannounce_period_ms = 500\n"
        "[profiles.big]\nheader_nslots = 8\npayload_pools = [ { pool_id = 1, stride_bytes = 16777216 } ]\n"
        "[streams.cam1]\nstream_id = 10000\nprofile = \"big\"\n";
    tp_driver_config_defaults(&g_rig_cfg);
    if (tp_driver_config_parse(&g_rig_cfg, text, strlen(text)) != 0) _exit(1);
    snprintf(g_rig_cfg.base_dir, sizeof g_rig_cfg.base_dir, "%s", g_rig_dir);
    tp_driver_t *d = NULL;
    if (tp_driver_open(&d, &g_rig_cfg, NULL) != 0) {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        _exit(1);
    }
    while (!g_sh->stop) {
        tp_driver_do_work(d, tp_clock_monotonic_ns());
        nap_us(200);
    }
    tp_driver_close(d, 0, NULL);
    _exit(0);
}

static void producer_main(void)
{
    tp_client_context_t ctx;
    client_ctx(&ctx);
    tp_producer_t *p = NULL;
    if (tp_producer_open(&p, &ctx, STREAM, 0, "progress", "progressive frames test") != 0) {
        fprintf(stderr, "producer: %s\n", tp_errmsg());
        _exit(1);
    }
    tp_tensor_header_t t;
    const int32_t dims[2] = {ROWS, ROW_BYTES};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
    /* wait for the consumer's opt-in (bounded), then publish */
    const int64_t give_up = tp_clock_monotonic_ns() + 60000000000LL;
    while (!g_sh->stop && tp_clock_monotonic_ns() < give_up &&
           !(tp_producer_is_active(p) && g_sh->consumer_ready && tp_producer_progress_consumers(p) > 0)) {
        tp_producer_do_work(p, tp_clock_monotonic_ns());
        nap_us(1000);
    }
    g_sh->consumers_seen = tp_producer_progress_consumers(p);
    for (unsigned f = 0; f < NFRAMES && !g_sh->stop && tp_producer_is_active(p); f++) {
        tp_shm_claim_t cl;
        if (tp_producer_claim(p, &t, FRAME, &cl) != 0) break;
        g_sh->epoch = tp_producer_epoch(p);
        tp_producer_progress(p, &cl, 0);
        for (unsigned r = 0; r < ROWS; r++) {
            uint8_t *row = cl.payload + (size_t)r * ROW_BYTES;
            for (unsigned i = 0; i < ROW_BYTES; i++) row[i] = pattern(cl.seq, (uint64_t)r * ROW_BYTES + i);
            tp_producer_progress(p, &cl, (uint64_t)(r + 1) * ROW_BYTES);
            if ((r & 63) == 0) tp_producer_do_work(p, tp_clock_monotonic_ns());
        }
        tp_producer_commit(p, &cl, (uint64_t)tp_clock_monotonic_ns());
        g_sh->published = tp_producer_next_seq(p);
        const int64_t gap = tp_clock_monotonic_ns() + 30000000; /* 30 ms between frames */
        while (tp_clock_monotonic_ns() < gap) {
            tp_producer_do_work(p, tp_clock_monotonic_ns());
            nap_us(1000);
        }
    }
    uint64_t sent = 0, thr = 0;
    tp_producer_progress_stats(p, &sent, &thr);
    g_sh->sent = sent;
    g_sh->throttled = thr;
    g_sh->producer_done = 1;
    while (!g_sh->stop) { /* keep the lease (and the files) until the end */
        tp_producer_do_work(p, tp_clock_monotonic_ns());
        nap_us(1000);
    }
    tp_producer_close(p);
    _exit(0);
}

typedef struct cons_state_s {
    uint64_t seq;    /* frame whose prefix was checked ... */
    uint64_t upto;   /* ... up to this offset */
    int have;
} cons_state_t;

static void on_progress(void *clientd, const tp_progress_t *p)
{
    cons_state_t *st = clientd;
    g_sh->calls++;
    if (p->readable > p->bytes_filled) g_sh->over_filled++;
    if (p->row_bytes != ROW_BYTES || p->readable % ROW_BYTES != 0) g_sh->torn++;
    if (!st->have || st->seq != p->seq) {
        st->have = 1;
        st->seq = p->seq;
        st->upto = 0;
    }
    if (p->readable <= st->upto) return;
    uint64_t bad = 0;
    for (uint64_t i = st->upto; i < p->readable; i++) bad += p->payload[i] != pattern(p->seq, i);
    if (tp_progress_intact(p)) { /* the bytes checked were the frame's */
        g_sh->bad_bytes += bad;
        g_sh->prefix_bytes_checked += p->readable - st->upto;
        if (p->rows > g_sh->max_rows_before_frame && p->state != TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE)
            g_sh->max_rows_before_frame = p->rows;
        st->upto = p->readable;
    }
}

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)clientd;
    /* sampled: the first and last row */
    int bad = f->len != FRAME;
    for (uint64_t i = 0; !bad && i < ROW_BYTES; i++)
        bad = f->payload[i] != pattern(f->seq, i) || f->payload[FRAME - ROW_BYTES + i] != pattern(f->seq, FRAME - ROW_BYTES + i);
    if (tp_frame_intact(f)) {
        g_sh->frames++;
        if (bad) g_sh->frames_bad++;
    }
}

static void consumer_main(void)
{
    tp_client_context_t ctx;
    client_ctx(&ctx);
    tp_consumer_t *c = NULL;
    if (tp_consumer_open(&c, &ctx, STREAM, 0) != 0) {
        fprintf(stderr, "consumer: %s\n", tp_errmsg());
        _exit(1);
    }
    cons_state_t st;
    memset(&st, 0, sizeof st);
    const tp_progress_hints_t hints = {.interval_us = 200, .bytes_delta = 4 * ROW_BYTES, .major_delta_units = 0};
    tp_consumer_set_progress(c, &hints, on_progress, &st);
    while (!g_sh->stop) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, NULL, 64);
        if (tp_consumer_is_mapped(c)) g_sh->consumer_ready = 1;
        tp_consumer_progress_counters(c, &g_sh->pc);
        nap_us(50);
    }
    g_sh->consumer_done = 1;
    tp_consumer_close(c);
    _exit(0);
}

/* ---- the hostile publisher ---- */

typedef struct hostile_s {
    uint64_t epoch, complete_seq;
    int have;
    uint8_t buf[128];
    tp_ipc_publication_t *ctl;
} hostile_t;

static void hostile_listen(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    hostile_t *h = clientd;
    tp_control_frame_progress_dec_t m;
    if (tp_control_frame_progress_decode(&m, buf, len) != 0 || tp_control_frame_progress_stream_id(&m) != STREAM) return;
    if (tp_control_frame_progress_state(&m) != TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE) return;
    h->epoch = tp_control_frame_progress_epoch(&m);
    h->complete_seq = tp_control_frame_progress_seq(&m);
    h->have = 1;
}

static void forge(hostile_t *h, uint64_t epoch, uint64_t seq, uint64_t filled)
{
    const long n = tp_progress_encode(h->buf, sizeof h->buf, STREAM, epoch, seq, filled, TP_CONTROL_FRAME_PROGRESS_STATE_PROGRESS);
    if (n > 0) tp_ipc_publication_offer(h->ctl, h->buf, (size_t)n);
}

static void hostile_main(void)
{
    hostile_t h;
    memset(&h, 0, sizeof h);
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = g_rig_dir;
    tp_client_context_t ctx;
    client_ctx(&ctx);
    tp_ipc_subscription_t *sub = NULL;
    if (tp_ipc_publication_open(&h.ctl, &ipc, ctx.channel, ctx.control_stream_id) != 0 ||
        tp_ipc_subscription_open(&sub, &ipc, ctx.channel, ctx.control_stream_id) != 0) {
        fprintf(stderr, "hostile: %s\n", tp_errmsg());
        _exit(1);
    }
    int64_t next = 0;
    while (!g_sh->stop) {
        tp_ipc_subscription_poll(sub, hostile_listen, &h, 256);
        const int64_t now = tp_clock_monotonic_ns();
        if (h.have && now >= next) {
            next = now + 50000000;
            forge(&h, h.epoch + 1, h.complete_seq, ROW_BYTES);     /* wrong epoch */
            forge(&h, h.epoch, h.complete_seq + 100, ROW_BYTES);   /* a seq never written: unknown slot */
            forge(&h, h.epoch, h.complete_seq, ROW_BYTES);         /* below the COMPLETE already seen */
            if (h.complete_seq > 0)
                forge(&h, h.epoch, h.complete_seq - 1, (uint64_t)FRAME + 1); /* past values_len_bytes */
            g_sh->attacks++;
        }
        nap_us(500);
    }
    tp_ipc_subscription_close(sub);
    tp_ipc_publication_close(h.ctl);
    _exit(0);
}

static pid_t fork_run(void (*fn)(void))
{
    const pid_t pid = fork();
    if (pid == 0) fn();
    return pid;
}

static int wait_exit(pid_t pid, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        nap_us(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void test_progress_across_processes(void)
{
    snprintf(g_rig_dir, sizeof g_rig_dir, "/dev/shm/tp-progress-XXXXXX");
    CHECK(mkdtemp(g_rig_dir) != NULL);
    g_sh = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(g_sh != MAP_FAILED);
    memset(g_sh, 0, sizeof *g_sh);
    const pid_t drv = fork_run(driver_main);
    nap_us(100000);
    const pid_t cons = fork_run(consumer_main);
    const pid_t hostile = fork_run(hostile_main);
    const pid_t prod = fork_run(producer_main);
    /* until the producer is done, the consumer has every frame and the
     * hostile causes were all counted (bounded: a loaded machine is slow) */
    const int64_t end = tp_clock_monotonic_ns() + 120000000000LL;
    while (tp_clock_monotonic_ns() < end) {
        const tp_progress_counters_t pc = g_sh->pc;
        if (g_sh->producer_done && g_sh->frames >= g_sh->published && pc.refused_epoch > 0 && pc.refused_slot > 0 &&
            pc.refused_length > 0 && pc.refused_backwards > 0)
            break;
        nap_us(20000);
    }
    g_sh->stop = 1;
    CHECK_EQ_I64(wait_exit(prod, 20000), 0);
    CHECK_EQ_I64(wait_exit(cons, 20000), 0);
    CHECK_EQ_I64(wait_exit(hostile, 20000), 0);
    CHECK_EQ_I64(wait_exit(drv, 20000), 0);
    const tp_progress_counters_t pc = g_sh->pc;
    printf("published %llu frames, consumer got %llu; %llu progress calls, %llu prefix bytes checked, "
           "%llu rows before a frame was complete; producer sent %llu (throttled %llu); hostile rounds %llu; "
           "refused epoch %llu slot %llu length %llu backwards %llu dropped %llu; overwritten %llu\n",
           (unsigned long long)g_sh->published, (unsigned long long)g_sh->frames, (unsigned long long)g_sh->calls,
           (unsigned long long)g_sh->prefix_bytes_checked, (unsigned long long)g_sh->max_rows_before_frame,
           (unsigned long long)g_sh->sent, (unsigned long long)g_sh->throttled, (unsigned long long)g_sh->attacks,
           (unsigned long long)pc.refused_epoch, (unsigned long long)pc.refused_slot, (unsigned long long)pc.refused_length,
           (unsigned long long)pc.refused_backwards, (unsigned long long)pc.refused_dropped, (unsigned long long)pc.overwritten);
    CHECK_EQ_U64(g_sh->consumers_seen, 1);      /* the Hello opt-in reached the producer (W-10.1.2.c) */
    CHECK_EQ_U64(g_sh->published, NFRAMES);
    CHECK_EQ_U64(g_sh->frames, NFRAMES);        /* every frame still arrives whole (W-10.2.2.h) */
    CHECK_EQ_U64(g_sh->frames_bad, 0);
    CHECK(g_sh->calls > NFRAMES);               /* STARTED, PROGRESS..., COMPLETE */
    CHECK(g_sh->max_rows_before_frame > 0);     /* rows readable before the frame was complete */
    CHECK(g_sh->prefix_bytes_checked >= (uint64_t)FRAME); /* at least one frame's worth of prefix bytes */
    CHECK_EQ_U64(g_sh->bad_bytes, 0);           /* never a byte that was not final (W-10.2.2.d, D-24) */
    CHECK_EQ_U64(g_sh->over_filled, 0);         /* never past bytes_filled */
    CHECK_EQ_U64(g_sh->torn, 0);                /* whole rows only (W-10.2.2.i) */
    CHECK(pc.refused_epoch > 0);                /* §5.6 */
    CHECK(pc.refused_slot > 0);                 /* §5.6, W-10.2.2.c */
    CHECK(pc.refused_length > 0);               /* W-10.2.2.e */
    CHECK(pc.refused_backwards > 0);            /* W-10.2.2.f */
    munmap(g_sh, sizeof *g_sh);
    nftw(g_rig_dir, rig_rm, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    RUN(test_progress_across_processes);
    TP_TEST_END();
}
