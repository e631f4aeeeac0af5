/* Interop vectors: every file decodes, and encoding the decoded values again
 * reproduces the file byte for byte. The decoded values themselves are
 * compared with expected.json by tests/interop/check_interop.py. Then every
 * proper prefix of every vector is rejected as truncated. */
#include "tensorpool/codec/registry.h"
#include "test_files.h"
#include "tp_test.h"

#include <stdlib.h>

static const char *interop_dir;

static const struct {
    const char *file;
    const char *headerless_message; /* NULL: the file starts with a message header */
} vectors[] = {
    {"control_consumer_config.bin", NULL},
    {"control_data_source_announce.bin", NULL},
    {"control_meta_blob_announce.bin", NULL},
    {"control_meta_blob_complete.bin", NULL},
    {"control_qos_consumer.bin", NULL},
    {"control_qos_producer.bin", NULL},
    {"control_response.bin", NULL},
    {"shm_tensor_header.bin", NULL},
    {"merge_sequence_map_announce.bin", NULL},
    {"merge_sequence_map_request.bin", NULL},
    {"merge_timestamp_map_announce.bin", NULL},
    {"merge_timestamp_map_request.bin", NULL},
    {"tracelink_trace_link_set.bin", NULL}, /* TL-9.2.a */
    {"shm_superblock.bin", "ShmRegionSuperblock"},
    {"shm_slot_header.bin", "SlotHeader"},
};

static const tp_codec_message_t *message_of(const uint8_t *buf, long len, const char *headerless)
{
    if (headerless != NULL)
        return tp_codec_find_by_name(headerless);
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, (size_t)len, &h) < 0)
        return NULL;
    return tp_codec_find(h.schema_id, h.template_id);
}

static long load(size_t i, uint8_t *buf, size_t cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", interop_dir, vectors[i].file);
    long n = tp_test_read_file(path, buf, cap);
    if (n <= 0)
        fprintf(stderr, "cannot read %s\n", path);
    return n;
}

static void interop_reencode_is_byte_exact(void)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t in[1024], out[1024];
        long n = load(i, in, sizeof in);
        CHECK(n > 0);
        const tp_codec_message_t *m = message_of(in, n, vectors[i].headerless_message);
        CHECK(m != NULL);
        if (n <= 0 || m == NULL)
            continue;
        memset(out, 0xAA, sizeof out);
        long r = m->reencode(in, (size_t)n, vectors[i].headerless_message != NULL, out, sizeof out);
        if (r != n || memcmp(in, out, (size_t)n) != 0) {
            fprintf(stderr, "%s: re-encoding gives %ld bytes (%s), file has %ld\n", vectors[i].file, r,
                    r < 0 ? tp_errmsg() : "differs", n);
            CHECK(0);
        }
    }
}

static void interop_every_prefix_is_truncated(void)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t in[1024], out[1024];
        long n = load(i, in, sizeof in);
        const tp_codec_message_t *m = message_of(in, n, vectors[i].headerless_message);
        if (n <= 0 || m == NULL) {
            CHECK(0);
            continue;
        }
        for (long k = 0; k < n; k++) {
            /* Copy into an exact-size heap block so ASan sees any over-read. */
            uint8_t *p = malloc((size_t)k + 1);
            memcpy(p, in, (size_t)k);
            long r = m->reencode(p, (size_t)k, vectors[i].headerless_message != NULL, out, sizeof out);
            if (r >= 0 || tp_errcode() != TP_ERR_TRUNCATED) {
                fprintf(stderr, "%s: prefix of %ld bytes: r=%ld code=%s (%s)\n", vectors[i].file, k, r,
                        tp_errcode_name(tp_errcode()), tp_errmsg());
                CHECK(0);
            }
            free(p);
        }
    }
}

static void interop_reencode_into_short_buffer_fails_cleanly(void)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t in[1024];
        long n = load(i, in, sizeof in);
        const tp_codec_message_t *m = message_of(in, n, vectors[i].headerless_message);
        if (n <= 0 || m == NULL) {
            CHECK(0);
            continue;
        }
        for (long cap = 0; cap < n; cap++) {
            uint8_t *out = malloc((size_t)cap + 1);
            long r = m->reencode(in, (size_t)n, vectors[i].headerless_message != NULL, out, (size_t)cap);
            CHECK(r < 0);
            free(out);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s INTEROP_DIR\n", argv[0]);
        return 2;
    }
    interop_dir = argv[1];
    RUN(interop_reencode_is_byte_exact);
    RUN(interop_every_prefix_is_truncated);
    RUN(interop_reencode_into_short_buffer_fails_cleanly);
    TP_TEST_END();
}
