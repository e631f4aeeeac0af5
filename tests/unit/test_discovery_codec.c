/* Schema 910 codec (docs/spec/discovery.md §3): the C reference's
 * DiscoveryResponse, a request round trip, nested groups, rejections.
 * usage: test_discovery_codec SEEDS_DIR (fuzz/seeds) */
#include "tensorpool/codec/discovery.h"
#include "tensorpool/codec/registry.h"
#include "tensorpool/error.h"
#include "tp_test.h"

#include <stdio.h>
#include <stdlib.h>

static const char *seeds;
static uint8_t ref[512];
static long ref_len;

#define D(x) tp_discovery_discovery_response_##x
#define R(x) tp_discovery_discovery_request_##x

static int str_is(const char *p, uint32_t n, const char *want) { return n == strlen(want) && memcmp(p, want, n) == 0; }
/* A var-data getter's text equals want (the length is read after the call). */
#define TEXT_IS(call, want) (s_ = (call), str_is(s_, len, want))
static const char *s_;

static void load_reference(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/discovery_response_c_reference.bin", seeds);
    FILE *f = fopen(path, "rb");
    ref_len = f != NULL ? (long)fread(ref, 1, sizeof ref, f) : -1;
    if (f != NULL) fclose(f);
}

/* The reference's seed generator writes the empty errorMessage right after
 * the root block, before the results group: SBE puts var data after the
 * groups, so the bytes are refused, with the reason (DS-10.a, DS-D2). */
static void reference_response_out_of_order_is_refused(void)
{
    CHECK_EQ_I64(ref_len, 166);
    D(dec_t) d;
    CHECK(D(decode)(&d, ref, (size_t)ref_len) < 0);
    CHECK(tp_errcode() == TP_ERR_MALFORMED && strstr(tp_errmsg(), "results blockLength 0") != NULL);
}

/* Moved to schema order (the 4 bytes of the empty errorMessage to the end),
 * the same bytes decode to exactly what the seed generator set, and encode
 * back byte for byte (DS-D1, DS-D3). */
static void reference_response_in_schema_order_decodes_to_its_values(void)
{
    uint8_t b[512], again[512];
    const size_t n = (size_t)ref_len;
    memcpy(b, ref, 17);
    memcpy(b + 17, ref + 21, n - 21);
    memcpy(b + n - 4, ref + 17, 4);
    D(dec_t) d;
    CHECK(D(decode)(&d, b, n) == 0);
    CHECK_EQ_U64(D(length)(&d), 166);
    CHECK_EQ_U64(D(request_id)(&d), 1);
    CHECK_EQ_U64(D(status)(&d), TP_DISCOVERY_DISCOVERY_STATUS_OK);
    CHECK_EQ_U64(D(results_count)(&d), 1);
    D(results_iter_t) it;
    D(results_iter)(&d, &it);
    CHECK(D(results_next)(&it) == 1);
    CHECK_EQ_U64(D(results_stream_id)(&it), 1000);
    CHECK_EQ_U64(D(results_producer_id)(&it), 1);
    CHECK_EQ_U64(D(results_epoch)(&it), 1);
    CHECK_EQ_U64(D(results_layout_version)(&it), 1);
    CHECK_EQ_U64(D(results_header_nslots)(&it), 8);
    CHECK_EQ_U64(D(results_header_slot_bytes)(&it), 256);
    CHECK_EQ_U64(D(results_max_dims)(&it), 8);
    CHECK_EQ_U64(D(results_data_source_id)(&it), 1);
    CHECK_EQ_U64(D(results_driver_control_stream_id)(&it), 1000);
    CHECK_EQ_U64(D(results_payload_pools_count)(&it), 1);
    D(results_payload_pools_iter_t) pi;
    D(results_payload_pools_iter)(&it, &pi);
    CHECK(D(results_payload_pools_next)(&pi) == 1);
    CHECK_EQ_U64(D(results_payload_pools_pool_id)(&pi), 1);
    CHECK_EQ_U64(D(results_payload_pools_pool_nslots)(&pi), 8);
    CHECK_EQ_U64(D(results_payload_pools_stride_bytes)(&pi), 1024);
    uint32_t len;
    const char *s = D(results_payload_pools_region_uri)(&pi, &len);
    CHECK(str_is(s, len, "shm:///tmp/pool1"));
    CHECK(D(results_payload_pools_next)(&pi) == 0);
    D(results_tags_iter_t) ti;
    D(results_tags_iter)(&it, &ti);
    CHECK(D(results_tags_next)(&ti) == 1);
    s = D(results_tags_tag)(&ti, &len);
    CHECK(str_is(s, len, "tag1"));
    CHECK(D(results_tags_next)(&ti) == 0);
    s = D(results_header_region_uri)(&it, &len);
    CHECK(str_is(s, len, "shm:///tmp/header"));
    s = D(results_data_source_name)(&it, &len);
    CHECK(str_is(s, len, "camera"));
    s = D(results_driver_instance_id)(&it, &len);
    CHECK(str_is(s, len, "driver-1"));
    s = D(results_driver_control_channel)(&it, &len);
    CHECK(str_is(s, len, "aeron:ipc"));
    CHECK(D(results_next)(&it) == 0);
    s = D(error_message)(&d, &len);
    CHECK_EQ_U64(len, 0);
    const tp_codec_message_t *m = tp_codec_find(910, 2);
    CHECK(m != NULL && m->reencode(b, n, false, again, sizeof again) == (long)n && memcmp(again, b, n) == 0);
    /* every cut-off prefix is refused */
    int refused = 1;
    for (size_t k = 0; k < n; k++) {
        uint8_t *p = malloc(k + 1);
        memcpy(p, b, k);
        if (D(decode)(&d, p, k) == 0) refused = 0;
        free(p);
    }
    CHECK(refused);
}

/* A request with filters and tags, and a response with two results written
 * through the nested-group encoder, decode to what was written; absent
 * optional fields read as their null values, unwritten var data as length 0
 * (DS-5.0.a). */
static void request_and_nested_response_round_trip(void)
{
    uint8_t b[1024];
    R(enc_t) e;
    R(encode_begin)(&e, b, sizeof b);
    R(set_request_id)(&e, 77);
    R(set_client_id)(&e, 5);
    R(set_response_stream_id)(&e, 4242);
    R(set_stream_id)(&e, (uint32_t)TP_DISCOVERY_DISCOVERY_REQUEST_STREAM_ID_NULL_VALUE);
    R(set_producer_id)(&e, (uint32_t)TP_DISCOVERY_DISCOVERY_REQUEST_PRODUCER_ID_NULL_VALUE);
    R(set_data_source_id)(&e, 9);
    R(tags_encode_begin)(&e, 2);
    R(tags_encode_next)(&e);
    R(tags_put_tag)(&e, "rgb", 3);
    R(tags_encode_next)(&e);
    R(tags_put_tag)(&e, "front", 5);
    R(put_response_channel)(&e, "tp:ipc", 6);
    R(put_data_source_name)(&e, "cam", 3);
    const long n = R(encode_end)(&e);
    CHECK(n == 8 + 32 + 4 + 7 + 9 + 10 + 7);
    R(dec_t) rd;
    CHECK(R(decode)(&rd, b, (size_t)n) == 0);
    CHECK(!R(stream_id_is_present)(&rd) && R(data_source_id_is_present)(&rd) && R(response_stream_id)(&rd) == 4242);
    R(tags_iter_t) t;
    R(tags_iter)(&rd, &t);
    uint32_t len;
    CHECK(R(tags_next)(&t) == 1 && TEXT_IS(R(tags_tag)(&t, &len), "rgb"));
    CHECK(R(tags_next)(&t) == 1 && TEXT_IS(R(tags_tag)(&t, &len), "front"));
    CHECK(TEXT_IS(R(data_source_name)(&rd, &len), "cam"));

    D(enc_t) r;
    D(encode_begin)(&r, b, sizeof b);
    D(set_request_id)(&r, 77);
    D(set_status)(&r, TP_DISCOVERY_DISCOVERY_STATUS_OK);
    D(results_encode_begin)(&r, 2);
    for (uint32_t k = 0; k < 2; k++) {
        D(results_encode_next)(&r);
        D(results_set_stream_id)(&r, 100 + k);
        D(results_set_driver_control_stream_id)(&r, 1000);
        D(results_payload_pools_encode_begin)(&r, (uint16_t)(k + 1));
        for (uint32_t p = 0; p <= k; p++) {
            D(results_payload_pools_encode_next)(&r);
            D(results_payload_pools_set_pool_id)(&r, (uint16_t)(p + 1));
            D(results_payload_pools_put_region_uri)(&r, "shm:file?path=/x", 16);
        }
        /* tags left out: written empty; a var field skipped is written empty too */
        D(results_put_data_source_name)(&r, k ? "imu" : "camera", k ? 3 : 6);
        D(results_put_driver_control_channel)(&r, "tp:ipc", 6);
    }
    const long rn = D(encode_end)(&r);
    CHECK(rn > 0);
    D(dec_t) d;
    CHECK(D(decode)(&d, b, (size_t)rn) == 0);
    D(results_iter_t) it;
    D(results_iter)(&d, &it);
    int pools = 0;
    while (D(results_next)(&it) > 0) {
        pools += D(results_payload_pools_count)(&it);
        CHECK_EQ_U64(D(results_tags_count)(&it), 0);
        D(results_header_region_uri)(&it, &len);
        CHECK_EQ_U64(len, 0);
    }
    CHECK_EQ_I64(pools, 3);
    CHECK(TEXT_IS(D(results_data_source_name)(&it, &len), "imu"));
    /* out of order is refused by the encoder */
    D(encode_begin)(&r, b, sizeof b);
    D(results_encode_begin)(&r, 1);
    D(results_encode_next)(&r);
    D(results_put_data_source_name)(&r, "x", 1);
    CHECK(D(results_payload_pools_encode_begin)(&r, 1) < 0);
    CHECK(D(encode_end)(&r) < 0);
}

static void bad_status_and_counts_refused(void) /* DS-10.a */
{
    uint8_t b[256];
    D(enc_t) r;
    D(encode_begin)(&r, b, sizeof b);
    D(set_status)(&r, 9);
    const long n = D(encode_end)(&r);
    D(dec_t) d;
    CHECK(D(decode)(&d, b, (size_t)n) < 0 && tp_errcode() == TP_ERR_INVALID_ENUM);
    D(encode_begin)(&r, b, sizeof b);
    D(set_status)(&r, TP_DISCOVERY_DISCOVERY_STATUS_OK);
    const long n2 = D(encode_end)(&r);
    tp_sbe_put_u16(b + 17 + 2, 60000); /* results count far beyond the bytes */
    CHECK(D(decode)(&d, b, (size_t)n2) < 0 && tp_errcode() == TP_ERR_TRUNCATED);
    tp_sbe_put_u16(b + 17 + 2, 0);
    tp_sbe_put_u16(b + 6, 2); /* version 2 */
    CHECK(D(decode)(&d, b, (size_t)n2) < 0 && tp_errcode() == TP_ERR_UNSUPPORTED);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SEEDS_DIR\n", argv[0]);
        return 2;
    }
    seeds = argv[1];
    load_reference();
    RUN(reference_response_out_of_order_is_refused);
    RUN(reference_response_in_schema_order_decodes_to_its_values);
    RUN(request_and_nested_response_round_trip);
    RUN(bad_status_and_counts_refused);
    TP_TEST_END();
}
