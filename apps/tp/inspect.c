/* tp inspect: what a header ring or payload pool file holds, and whether its
 * superblock is valid. Reads with pread only: a file that shrinks or changes
 * while it is inspected cannot crash the tool. */
#include "commands.h"

#include "tensorpool/error.h"
#include "tensorpool/json_writer.h"
#include "tensorpool/shm_layout.h"
#include "tensorpool/shm_region.h"
#include "tensorpool/shm_seqlock.h"
#include "tensorpool/slot_check.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { MAX_PROBLEMS = 8 };
static const uint64_t STALE_NS = 3000000000ull; /* §6: producer-dead timeout, 3 announce periods */

static void usage(FILE *out)
{
    fputs("NAME\n"
          "    tp inspect - describe a tensorpool SHM region file and check its superblock\n"
          "\n"
          "SYNOPSIS\n"
          "    tp inspect [--json] [--max-slots N|all] PATH\n"
          "\n"
          "DESCRIPTION\n"
          "    Describes a tensorpool SHM region file: a header ring (header.ring) or a\n"
          "    payload pool (<pool_id>.pool), as created under\n"
          "    <shm_base_dir>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/.\n"
          "\n"
          "    Prints the 64-byte superblock field by field, whether it is valid on its own\n"
          "    and, if not, every reason: bad magic, layout_version other than 1, unknown\n"
          "    region_type, nslots not a power of two, a ring with pool_id != 0 or\n"
          "    slot_bytes != 256, a pool stride that is not a non-zero multiple of 64, a file\n"
          "    shorter than 64 + nslots * slot size. Checks that need the producer's\n"
          "    announce (epoch, stream_id, pool ids) are not made here.\n"
          "\n"
          "    The activity timestamp is compared with this host's CLOCK_MONOTONIC: its age\n"
          "    is shown and it is flagged stale when 0 (never written) or older than 3 s.\n"
          "    Staleness does not make the file invalid.\n"
          "\n"
          "    For a header ring, one line per slot: index, logical seq, commit state\n"
          "    (committed, in-progress, or changing if the producer rewrote the slot while it\n"
          "    was read), values_len_bytes, pool_id, dtype, major order, dims, and the result\n"
          "    of the per-slot checks that need no announce (header length, embedded header,\n"
          "    payload_offset, payload_slot, dtype, order, ndims, strides, progress fields),\n"
          "    e.g. 'ok' or 'payload-slot'.\n"
          "\n"
          "    The file is only read, with pread: a file that shrinks or changes while it is\n"
          "    inspected is reported, never a crash. A FIFO or device is refused.\n"
          "\n"
          "OPTIONS\n"
          "    --json           print one JSON object instead of text (snake_case keys;\n"
          "                     epochs, seq and nanosecond times as decimal strings; the\n"
          "                     superblock times are CLOCK_MONOTONIC: *_mono_ns; every key\n"
          "                     is listed in docs/json.md)\n"
          "    --max-slots N    list at most N slots (default 64; 0 lists none, 'all' lists\n"
          "                     every slot)\n"
          "    -h, --help       print this text and exit\n"
          "\n"
          "EXIT STATUS\n"
          "    0  the file is a valid region (its report is printed)\n"
          "    1  the file could not be opened or read\n"
          "    2  usage error, a path that is not a regular file, or an invalid region (the\n"
          "       report is still printed, with the reasons)\n"
          "\n"
          "EXAMPLES\n"
          "    Every slot of a stream's header ring, as JSON:\n"
          "        tp inspect --json --max-slots all \\\n"
          "            /dev/shm/tensorpool/tensorpool-$USER/default/10000/1/header.ring\n"
          "\n"
          "SEE ALSO\n"
          "    tp(1), tp-decode(1), tp-stat(1), tensorpool(7)\n",
          out);
}

static uint64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One slot, read twice at offset 0 to notice a concurrent rewrite. */
typedef struct {
    uint64_t seq_commit;
    int changing;
    tp_slot_header_t h;
    tp_reject_t check;
} slot_info_t;

static int read_slot(int fd, uint32_t index, slot_info_t *s)
{
    uint8_t img[TP_SHM_SLOT_BYTES];
    const off_t off = (off_t)(TP_SHM_SUPERBLOCK_SIZE + (uint64_t)index * TP_SHM_SLOT_BYTES);
    if (pread(fd, img, sizeof img, off) != (ssize_t)sizeof img) return -1;
    uint8_t again[8];
    if (pread(fd, again, sizeof again, off) != (ssize_t)sizeof again) return -1;
    s->seq_commit = tp_seqlock_read_begin(img); /* plain private copy: an aligned local load */
    s->changing = memcmp(img, again, 8) != 0;
    tp_slot_header_read(img, &s->h);
    s->check = tp_slot_header_check(&s->h, index, NULL);
    return 0;
}

static const char *slot_state(const slot_info_t *s)
{
    if (s->changing) return "changing";
    return tp_seq_is_committed(s->seq_commit) ? "committed" : "in-progress";
}

static void json_superblock(tp_json_t *j, const tp_superblock_t *sb)
{
    const char *rt = tp_control_region_type_name(sb->region_type);
    tp_json_key(j, "superblock");
    tp_json_begin_object(j);
    tp_json_key(j, "magic"); tp_json_u64_string(j, sb->magic);
    tp_json_key(j, "layout_version"); tp_json_u64(j, sb->layout_version);
    tp_json_key(j, "epoch"); tp_json_u64_string(j, sb->epoch);
    tp_json_key(j, "stream_id"); tp_json_u64(j, sb->stream_id);
    tp_json_key(j, "region_type");
    if (rt) tp_json_cstring(j, rt);
    else tp_json_i64(j, sb->region_type);
    tp_json_key(j, "pool_id"); tp_json_u64(j, sb->pool_id);
    tp_json_key(j, "nslots"); tp_json_u64(j, sb->nslots);
    tp_json_key(j, "slot_bytes"); tp_json_u64(j, sb->slot_bytes);
    tp_json_key(j, "stride_bytes"); tp_json_u64(j, sb->stride_bytes);
    tp_json_key(j, "pid"); tp_json_u64(j, sb->pid);
    tp_json_key(j, "start_timestamp_mono_ns"); tp_json_u64_string(j, sb->start_timestamp_ns);
    tp_json_key(j, "activity_timestamp_mono_ns"); tp_json_u64_string(j, sb->activity_timestamp_ns);
    tp_json_end_object(j);
}

static void json_slot(tp_json_t *j, uint32_t i, const slot_info_t *s)
{
    const tp_tensor_header_t *t = &s->h.tensor;
    tp_json_begin_object(j);
    tp_json_key(j, "index"); tp_json_u64(j, i);
    tp_json_key(j, "seq_commit"); tp_json_u64_string(j, s->seq_commit);
    tp_json_key(j, "seq"); tp_json_u64_string(j, tp_seq_of(s->seq_commit));
    tp_json_key(j, "committed"); tp_json_bool(j, tp_seq_is_committed(s->seq_commit) && !s->changing);
    tp_json_key(j, "state"); tp_json_cstring(j, slot_state(s));
    tp_json_key(j, "values_len_bytes"); tp_json_u64(j, s->h.values_len_bytes);
    tp_json_key(j, "pool_id"); tp_json_u64(j, s->h.pool_id);
    tp_json_key(j, "payload_slot"); tp_json_u64(j, s->h.payload_slot);
    tp_json_key(j, "timestamp_ns"); tp_json_u64_string(j, s->h.timestamp_ns);
    const char *dt = tp_control_dtype_name(t->dtype), *mo = tp_control_major_order_name(t->major_order);
    tp_json_key(j, "dtype");
    if (dt) tp_json_cstring(j, dt);
    else tp_json_i64(j, t->dtype); /* a value outside the enum prints as its number */
    tp_json_key(j, "major_order");
    if (mo) tp_json_cstring(j, mo);
    else tp_json_i64(j, t->major_order);
    tp_json_key(j, "ndims"); tp_json_u64(j, t->ndims);
    tp_json_key(j, "dims");
    tp_json_begin_array(j);
    for (unsigned k = 0; k < t->ndims && k < TP_TENSOR_MAX_DIMS; k++) tp_json_i64(j, t->dims[k]);
    tp_json_end_array(j);
    tp_json_key(j, "strides");
    tp_json_begin_array(j);
    for (unsigned k = 0; k < t->ndims && k < TP_TENSOR_MAX_DIMS; k++) tp_json_i64(j, t->strides[k]);
    tp_json_end_array(j);
    tp_json_key(j, "check"); tp_json_cstring(j, s->check == TP_REJECT_NONE ? "ok" : tp_reject_name(s->check));
    tp_json_end_object(j);
}

static void text_slot(uint32_t i, const slot_info_t *s)
{
    const tp_tensor_header_t *t = &s->h.tensor;
    char dims[128] = "[";
    size_t n = 1;
    for (unsigned k = 0; k < t->ndims && k < TP_TENSOR_MAX_DIMS && n < sizeof dims - 16; k++)
        n += (size_t)snprintf(dims + n, sizeof dims - n, "%s%" PRId32, k ? "," : "", t->dims[k]);
    snprintf(dims + n, sizeof dims - n, "]");
    const char *dt = tp_control_dtype_name(t->dtype), *mo = tp_control_major_order_name(t->major_order);
    char dtb[16], mob[16];
    if (!dt) snprintf(dtb, sizeof dtb, "%d?", t->dtype), dt = dtb;
    if (!mo) snprintf(mob, sizeof mob, "%d?", t->major_order), mo = mob;
    printf("  %5" PRIu32 " %12" PRIu64 " %-11s %10" PRIu32 " %5u %-8s %-6s %-20s %s\n", i, tp_seq_of(s->seq_commit),
           slot_state(s), s->h.values_len_bytes, (unsigned)s->h.pool_id, dt, mo, dims,
           s->check == TP_REJECT_NONE ? "ok" : tp_reject_name(s->check));
}

int tp_cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"max-slots", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0;
    uint64_t max_slots = 64;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 'm') {
            char *end = NULL;
            errno = 0;
            if (strcmp(optarg, "all") == 0) {
                max_slots = UINT64_MAX;
            } else {
                max_slots = strtoull(optarg, &end, 10);
                if (errno || end == optarg || *end || optarg[0] == '-') {
                    fprintf(stderr, "tp inspect: --max-slots wants a number or 'all', not '%s'\n", optarg);
                    return 2;
                }
            }
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "tp inspect: see tp inspect --help\n");
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "tp inspect: expected exactly one PATH (see tp inspect --help)\n");
        return 2;
    }
    const char *path = argv[optind];
    /* O_NONBLOCK: a FIFO must not hang the tool; it is refused below */
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "tp inspect: %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "tp inspect: %s: not a regular file\n", path);
        close(fd);
        return 2;
    }
    const uint64_t size = (uint64_t)st.st_size;
    uint8_t raw[TP_SHM_SUPERBLOCK_SIZE];
    if (size < TP_SHM_SUPERBLOCK_SIZE) {
        fprintf(stderr, "tp inspect: %s: %" PRIu64 " bytes, shorter than the 64-byte superblock: not a region file\n",
                path, size);
        close(fd);
        return 2;
    }
    if (pread(fd, raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        fprintf(stderr, "tp inspect: %s: cannot read the superblock: %s\n", path, strerror(errno));
        close(fd);
        return 1;
    }
    tp_superblock_t sb;
    tp_superblock_read(raw, &sb);
    const char *why[MAX_PROBLEMS];
    const unsigned nprob = tp_superblock_problems(&sb, size, why, MAX_PROBLEMS);
    const int valid = nprob == 0;
    const uint64_t now = mono_now();
    const uint64_t act = sb.activity_timestamp_ns;
    const uint64_t age = act != 0 && now > act ? now - act : 0;
    const int stale = !tp_shm_activity_fresh(sb.activity_timestamp_ns, now, STALE_NS);
    /* slots are listed only for a ring whose geometry holds */
    const int list = valid && sb.region_type == TP_CONTROL_REGION_TYPE_HEADER_RING;
    const uint64_t nlist = list ? (sb.nslots < max_slots ? sb.nslots : max_slots) : 0;

    tp_json_t j;
    if (json) {
        tp_json_init(&j, stdout);
        tp_json_begin_object(&j);
        tp_json_key(&j, "path"); tp_json_cstring(&j, path);
        tp_json_key(&j, "file_bytes"); tp_json_u64(&j, size);
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
        tp_json_key(&j, "mode"); tp_json_cstring(&j, mode);
        json_superblock(&j, &sb);
        tp_json_key(&j, "valid"); tp_json_bool(&j, valid);
        tp_json_key(&j, "problems");
        tp_json_begin_array(&j);
        for (unsigned i = 0; i < nprob && i < MAX_PROBLEMS; i++) tp_json_cstring(&j, why[i]);
        tp_json_end_array(&j);
        tp_json_key(&j, "activity_age_ns"); tp_json_u64(&j, age);
        tp_json_key(&j, "stale"); tp_json_bool(&j, stale);
        tp_json_key(&j, "slots_listed"); tp_json_u64(&j, nlist);
        tp_json_key(&j, "slots");
        tp_json_begin_array(&j);
    } else {
        const char *rt = tp_control_region_type_name(sb.region_type);
        printf("file        %s (%" PRIu64 " bytes, mode %04o)\n", path, size, (unsigned)(st.st_mode & 07777));
        printf("superblock  %s\n", valid ? "valid" : "INVALID");
        printf("  magic                 0x%016" PRIx64 "%s\n", sb.magic, sb.magic == TP_SHM_MAGIC ? "" : "  (bad)");
        printf("  layout_version        %" PRIu32 "\n", sb.layout_version);
        printf("  epoch                 %" PRIu64 "\n", sb.epoch);
        printf("  stream_id             %" PRIu32 "\n", sb.stream_id);
        printf("  region_type           %s (%d)\n", rt ? rt : "invalid", sb.region_type);
        printf("  pool_id               %u\n", (unsigned)sb.pool_id);
        printf("  nslots                %" PRIu32 "\n", sb.nslots);
        printf("  slot_bytes            %" PRIu32 "\n", sb.slot_bytes);
        printf("  stride_bytes          %" PRIu32 "\n", sb.stride_bytes);
        printf("  pid                   %" PRIu64 "\n", sb.pid);
        printf("  start_timestamp_ns    %" PRIu64 "\n", sb.start_timestamp_ns);
        printf("  activity_timestamp_ns %" PRIu64 " (%s)\n", sb.activity_timestamp_ns,
               sb.activity_timestamp_ns == 0 ? "never written: stale" : stale ? "stale" : "fresh");
        if (sb.activity_timestamp_ns != 0) printf("  activity age          %.3f s\n", (double)age / 1e9);
        for (unsigned i = 0; i < nprob && i < MAX_PROBLEMS; i++) printf("problem     %s\n", why[i]);
        if (list) {
            printf("slots       %" PRIu64 " of %" PRIu32 " listed\n", nlist, sb.nslots);
            if (nlist)
                printf("  %5s %12s %-11s %10s %5s %-8s %-6s %-20s %s\n", "index", "seq", "state", "len", "pool",
                       "dtype", "order", "dims", "check");
        }
    }
    int rc = valid ? 0 : 2;
    for (uint64_t i = 0; i < nlist; i++) {
        slot_info_t s;
        if (read_slot(fd, (uint32_t)i, &s) != 0) { /* the file shrank under us */
            fflush(stdout);
            fprintf(stderr, "tp inspect: %s: cannot read slot %" PRIu64 " (file changed?)\n", path, i);
            rc = 1;
            break;
        }
        if (json) json_slot(&j, (uint32_t)i, &s);
        else text_slot((uint32_t)i, &s);
    }
    if (json) {
        tp_json_end_array(&j);
        tp_json_end_object(&j);
        fputc('\n', stdout);
    }
    if (!valid) fprintf(stderr, "tp inspect: %s: invalid region: %s\n", path, why[0]);
    close(fd);
    return rc;
}
