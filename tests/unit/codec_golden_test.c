/* Encoders reproduce the worked encodings of the specs byte for byte
 * (docs/spec/join-barrier.md 4.9, docs/spec/driver.md 4.4, docs/spec/wire.md 3.7 and 4.4), and decoders read
 * them back to the same values. */
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/codec/merge.h"
#include "tp_test.h"

#include <stdlib.h>

/* Parse "0c 00 02 ..." (spaces and '|' ignored) into out; returns the length. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s != '\0') {
        if (*s == ' ' || *s == '|' || *s == '\n') {
            s++;
            continue;
        }
        char byte[3] = {s[0], s[1], 0};
        if (n < cap)
            out[n] = (uint8_t)strtoul(byte, NULL, 16);
        n++;
        s += 2;
    }
    return n;
}

static void check_bytes(const uint8_t *got, long got_len, const char *want_hex)
{
    uint8_t want[512];
    size_t n = unhex(want_hex, want, sizeof want);
    CHECK_EQ_I64(got_len, (long)n);
    if (got_len == (long)n)
        CHECK(memcmp(got, want, n) == 0);
}

static void sequence_announce_golden(void) /* docs/spec/join-barrier.md 4.9, interop vector */
{
    uint8_t buf[128];
    tp_merge_sequence_merge_map_announce_enc_t e;
    CHECK(tp_merge_sequence_merge_map_announce_encode_begin(&e, buf, sizeof buf) == 0);
    tp_merge_sequence_merge_map_announce_set_out_stream_id(&e, 2000);
    tp_merge_sequence_merge_map_announce_set_epoch(&e, 1);
    tp_merge_sequence_merge_map_announce_set_stale_timeout_ns(&e, 1000000);
    CHECK(tp_merge_sequence_merge_map_announce_rules_encode_begin(&e, 1) == 0);
    CHECK(tp_merge_sequence_merge_map_announce_rules_encode_next(&e) == 0);
    tp_merge_sequence_merge_map_announce_rules_set_input_stream_id(&e, 1001);
    tp_merge_sequence_merge_map_announce_rules_set_rule_type(&e, TP_MERGE_MERGE_RULE_TYPE_OFFSET);
    tp_merge_sequence_merge_map_announce_rules_set_offset(&e, 0);
    tp_merge_sequence_merge_map_announce_rules_set_window_size(&e, (uint32_t)TP_MERGE_SEQUENCE_MERGE_MAP_ANNOUNCE_RULES_WINDOW_SIZE_NULL_VALUE);
    long n = tp_merge_sequence_merge_map_announce_encode_end(&e);
    check_bytes(buf, n, "14 00 01 00 87 03 01 00 d0 07 00 00 01 00 00 00 00 00 00 00"
                        "40 42 0f 00 00 00 00 00 0d 00 01 00 e9 03 00 00 00 00 00 00"
                        "00 ff ff ff ff");

    tp_merge_sequence_merge_map_announce_dec_t d;
    CHECK(tp_merge_sequence_merge_map_announce_decode(&d, buf, (size_t)n) == 0);
    CHECK_EQ_U64(tp_merge_sequence_merge_map_announce_out_stream_id(&d), 2000);
    CHECK_EQ_U64(tp_merge_sequence_merge_map_announce_rules_count(&d), 1);
    tp_merge_sequence_merge_map_announce_rules_iter_t it;
    tp_merge_sequence_merge_map_announce_rules_iter(&d, &it);
    CHECK(tp_merge_sequence_merge_map_announce_rules_next(&it) == 1);
    CHECK_EQ_U64(tp_merge_sequence_merge_map_announce_rules_input_stream_id(&it), 1001);
    CHECK(!tp_merge_sequence_merge_map_announce_rules_window_size_is_present(&it));
    CHECK(tp_merge_sequence_merge_map_announce_rules_offset_is_present(&it));
    CHECK(tp_merge_sequence_merge_map_announce_rules_next(&it) == 0);
}

static void sequence_announce_two_rules_computed(void) /* docs/spec/join-barrier.md 4.9, computed */
{
    uint8_t buf[128];
    tp_merge_sequence_merge_map_announce_enc_t e;
    tp_merge_sequence_merge_map_announce_encode_begin(&e, buf, sizeof buf);
    tp_merge_sequence_merge_map_announce_set_out_stream_id(&e, 5);
    tp_merge_sequence_merge_map_announce_set_epoch(&e, 7);
    tp_merge_sequence_merge_map_announce_set_stale_timeout_ns(&e, UINT64_MAX);
    tp_merge_sequence_merge_map_announce_rules_encode_begin(&e, 2);
    tp_merge_sequence_merge_map_announce_rules_encode_next(&e);
    tp_merge_sequence_merge_map_announce_rules_set_input_stream_id(&e, 10);
    tp_merge_sequence_merge_map_announce_rules_set_rule_type(&e, TP_MERGE_MERGE_RULE_TYPE_OFFSET);
    tp_merge_sequence_merge_map_announce_rules_set_offset(&e, -1);
    tp_merge_sequence_merge_map_announce_rules_set_window_size(&e, UINT32_MAX);
    tp_merge_sequence_merge_map_announce_rules_encode_next(&e);
    tp_merge_sequence_merge_map_announce_rules_set_input_stream_id(&e, 11);
    tp_merge_sequence_merge_map_announce_rules_set_rule_type(&e, TP_MERGE_MERGE_RULE_TYPE_WINDOW);
    tp_merge_sequence_merge_map_announce_rules_set_offset(&e, INT32_MIN);
    tp_merge_sequence_merge_map_announce_rules_set_window_size(&e, 4);
    long n = tp_merge_sequence_merge_map_announce_encode_end(&e);
    check_bytes(buf, n, "14 00 01 00 87 03 01 00 05 00 00 00 07 00 00 00 00 00 00 00"
                        "ff ff ff ff ff ff ff ff 0d 00 02 00 0a 00 00 00 00 ff ff ff"
                        "ff ff ff ff ff 0b 00 00 00 01 00 00 00 80 04 00 00 00");
}

static void timestamp_announce_computed(void) /* docs/spec/join-barrier.md 4.9, computed */
{
    uint8_t buf[128];
    tp_merge_timestamp_merge_map_announce_enc_t e;
    tp_merge_timestamp_merge_map_announce_encode_begin(&e, buf, sizeof buf);
    tp_merge_timestamp_merge_map_announce_set_out_stream_id(&e, 8);
    tp_merge_timestamp_merge_map_announce_set_epoch(&e, 2);
    tp_merge_timestamp_merge_map_announce_set_stale_timeout_ns(&e, UINT64_MAX);
    tp_merge_timestamp_merge_map_announce_set_clock_domain(&e, TP_MERGE_CLOCK_DOMAIN_MONOTONIC);
    tp_merge_timestamp_merge_map_announce_set_lateness_ns(&e, 10);
    tp_merge_timestamp_merge_map_announce_rules_encode_begin(&e, 1);
    tp_merge_timestamp_merge_map_announce_rules_encode_next(&e);
    tp_merge_timestamp_merge_map_announce_rules_set_input_stream_id(&e, 20);
    tp_merge_timestamp_merge_map_announce_rules_set_rule_type(&e, TP_MERGE_MERGE_TIME_RULE_TYPE_OFFSET_NS);
    tp_merge_timestamp_merge_map_announce_rules_set_timestamp_source(&e, TP_MERGE_TIMESTAMP_SOURCE_FRAME_DESCRIPTOR);
    tp_merge_timestamp_merge_map_announce_rules_set_offset_ns(&e, -5000000);
    tp_merge_timestamp_merge_map_announce_rules_set_window_ns(&e, UINT64_MAX);
    long n = tp_merge_timestamp_merge_map_announce_encode_end(&e);
    check_bytes(buf, n, "1d 00 03 00 87 03 01 00 08 00 00 00 02 00 00 00 00 00 00 00"
                        "ff ff ff ff ff ff ff ff 01 0a 00 00 00 00 00 00 00 16 00 01"
                        "00 14 00 00 00 00 01 c0 b4 b3 ff ff ff ff ff ff ff ff ff ff"
                        "ff ff ff");
}

static void sequence_request_computed(void) /* docs/spec/join-barrier.md 4.9 */
{
    uint8_t buf[32];
    tp_merge_sequence_merge_map_request_enc_t e;
    tp_merge_sequence_merge_map_request_encode_begin(&e, buf, sizeof buf);
    tp_merge_sequence_merge_map_request_set_out_stream_id(&e, 9);
    tp_merge_sequence_merge_map_request_set_epoch(&e, 42);
    long n = tp_merge_sequence_merge_map_request_encode_end(&e);
    check_bytes(buf, n, "0c 00 02 00 87 03 01 00 09 00 00 00 2a 00 00 00 00 00 00 00");
}

static void attach_request_worked(void) /* docs/spec/driver.md 4.4 */
{
    uint8_t buf[64];
    tp_driver_shm_attach_request_enc_t e;
    tp_driver_shm_attach_request_encode_begin(&e, buf, sizeof buf);
    tp_driver_shm_attach_request_set_correlation_id(&e, 7);
    tp_driver_shm_attach_request_set_stream_id(&e, 10000);
    tp_driver_shm_attach_request_set_client_id(&e, 42);
    tp_driver_shm_attach_request_set_role(&e, TP_DRIVER_ROLE_PRODUCER);
    tp_driver_shm_attach_request_set_expected_layout_version(&e, 1);
    tp_driver_shm_attach_request_set_publish_mode(&e, TP_DRIVER_PUBLISH_MODE_REQUIRE_EXISTING);
    tp_driver_shm_attach_request_set_require_hugepages(&e, TP_DRIVER_HUGEPAGES_POLICY_UNSPECIFIED);
    tp_driver_shm_attach_request_set_desired_node_id(&e, (uint32_t)TP_DRIVER_SHM_ATTACH_REQUEST_DESIRED_NODE_ID_NULL_VALUE);
    long n = tp_driver_shm_attach_request_encode_end(&e);
    check_bytes(buf, n, "1b 00 01 00 85 03 01 00 | 07 00 00 00 00 00 00 00 | 10 27 00 00 | 2a 00 00 00 | 01 |"
                        " 01 00 00 00 | 01 | 00 | ff ff ff ff");
    tp_driver_shm_attach_request_dec_t d;
    CHECK(tp_driver_shm_attach_request_decode(&d, buf, (size_t)n) == 0);
    CHECK(!tp_driver_shm_attach_request_desired_node_id_is_present(&d));
    CHECK(tp_driver_shm_attach_request_publish_mode_is_present(&d));
}

static void keepalive_worked(void) /* docs/spec/driver.md 4.4 */
{
    uint8_t buf[64];
    tp_driver_shm_lease_keepalive_enc_t e;
    tp_driver_shm_lease_keepalive_encode_begin(&e, buf, sizeof buf);
    tp_driver_shm_lease_keepalive_set_lease_id(&e, UINT64_C(0x1122334455667788));
    tp_driver_shm_lease_keepalive_set_stream_id(&e, 10000);
    tp_driver_shm_lease_keepalive_set_client_id(&e, 42);
    tp_driver_shm_lease_keepalive_set_role(&e, TP_DRIVER_ROLE_PRODUCER);
    tp_driver_shm_lease_keepalive_set_client_timestamp_ns(&e, 1000000000);
    long n = tp_driver_shm_lease_keepalive_encode_end(&e);
    check_bytes(buf, n, "19 00 05 00 85 03 01 00 | 88 77 66 55 44 33 22 11 | 10 27 00 00 | 2a 00 00 00 | 01 |"
                        " 00 ca 9a 3b 00 00 00 00");
}

static void attach_response_rejected_worked(void) /* docs/spec/driver.md 4.4: 99 bytes */
{
    uint8_t buf[128];
    const char *text = "producer already attached";
    tp_driver_shm_attach_response_enc_t e;
    tp_driver_shm_attach_response_encode_begin(&e, buf, sizeof buf);
    tp_driver_shm_attach_response_set_correlation_id(&e, 7);
    tp_driver_shm_attach_response_set_code(&e, TP_DRIVER_RESPONSE_CODE_REJECTED);
    tp_driver_shm_attach_response_set_lease_id(&e, UINT64_MAX);
    tp_driver_shm_attach_response_set_lease_expiry_timestamp_ns(&e, UINT64_MAX);
    tp_driver_shm_attach_response_set_stream_id(&e, UINT32_MAX);
    tp_driver_shm_attach_response_set_epoch(&e, UINT64_MAX);
    tp_driver_shm_attach_response_set_layout_version(&e, UINT32_MAX);
    tp_driver_shm_attach_response_set_header_nslots(&e, UINT32_MAX);
    tp_driver_shm_attach_response_set_header_slot_bytes(&e, UINT16_MAX);
    tp_driver_shm_attach_response_set_node_id(&e, UINT32_MAX);
    /* payloadPools and headerRegionUri skipped: written empty, in order. */
    CHECK(tp_driver_shm_attach_response_put_error_message(&e, text, strlen(text)) == 0);
    long n = tp_driver_shm_attach_response_encode_end(&e);
    CHECK_EQ_I64(n, 99);
    uint8_t want[99];
    unhex("36 00 02 00 85 03 01 00 07 00 00 00 00 00 00 00 03 00 00 00", want, sizeof want);
    memset(want + 20, 0xff, 42);
    unhex("0a 00 00 00 00 00 00 00 19 00 00 00", want + 62, 12);
    memcpy(want + 74, text, 25);
    CHECK(n == 99 && memcmp(buf, want, 99) == 0);
    tp_driver_shm_attach_response_dec_t d;
    CHECK(tp_driver_shm_attach_response_decode(&d, buf, 99) == 0);
    uint32_t len = 0;
    const char *msg = tp_driver_shm_attach_response_error_message(&d, &len);
    CHECK(len == 25 && memcmp(msg, text, 25) == 0);
    CHECK_EQ_U64(tp_driver_shm_attach_response_payload_pools_count(&d), 0);
    CHECK(!tp_driver_shm_attach_response_lease_id_is_present(&d));
}

/* docs/spec/wire.md 4.4 example; W-10.1.a: absent optional fields are written as their
 * null sentinels (all ones for u64/u32, 0 for traceId) and read back as not
 * present. */
static void frame_descriptor_example(void)
{
    uint8_t buf[64];
    tp_control_frame_descriptor_enc_t e;
    tp_control_frame_descriptor_encode_begin(&e, buf, sizeof buf);
    tp_control_frame_descriptor_set_stream_id(&e, 10000);
    tp_control_frame_descriptor_set_epoch(&e, 7);
    tp_control_frame_descriptor_set_seq(&e, 5);
    tp_control_frame_descriptor_set_timestamp_ns(&e, UINT64_MAX);
    tp_control_frame_descriptor_set_meta_version(&e, UINT32_MAX);
    tp_control_frame_descriptor_set_trace_id(&e, 0);
    long n = tp_control_frame_descriptor_encode_end(&e);
    check_bytes(buf, n, "28 00 04 00 84 03 01 00 | 10 27 00 00 | 07 00 00 00 00 00 00 00 | 05 00 00 00 00 00 00 00 |"
                        " ff ff ff ff ff ff ff ff | ff ff ff ff | 00 00 00 00 00 00 00 00");
    tp_control_frame_descriptor_dec_t d;
    CHECK(tp_control_frame_descriptor_decode(&d, buf, (size_t)n) == 0);
    CHECK(!tp_control_frame_descriptor_timestamp_ns_is_present(&d));
    CHECK(!tp_control_frame_descriptor_meta_version_is_present(&d));
    CHECK(!tp_control_frame_descriptor_trace_id_is_present(&d)); /* traceId null is 0 */
}

static void annotated_slot_example(void) /* docs/spec/wire.md 3.7: seq 5, slot 1, FLOAT32 2x2 */
{
    uint8_t th[192], slot[256];
    tp_control_tensor_header_enc_t t;
    tp_control_tensor_header_encode_begin(&t, th, sizeof th);
    tp_control_tensor_header_set_dtype(&t, TP_CONTROL_DTYPE_FLOAT32);
    tp_control_tensor_header_set_major_order(&t, TP_CONTROL_MAJOR_ORDER_ROW);
    tp_control_tensor_header_set_ndims(&t, 2);
    tp_control_tensor_header_set_progress_unit(&t, TP_CONTROL_PROGRESS_UNIT_NONE);
    tp_control_tensor_header_set_dims(&t, 0, 2);
    tp_control_tensor_header_set_dims(&t, 1, 2);
    tp_control_tensor_header_set_strides(&t, 0, 8);
    tp_control_tensor_header_set_strides(&t, 1, 4);
    CHECK_EQ_I64(tp_control_tensor_header_encode_end(&t), 192);

    tp_control_slot_header_enc_t e;
    CHECK(tp_control_slot_header_encode_begin_headerless(&e, slot, sizeof slot) == 0);
    tp_control_slot_header_set_seq_commit(&e, (5 << 1) | 1);
    tp_control_slot_header_set_values_len_bytes(&e, 16);
    tp_control_slot_header_set_payload_slot(&e, 1);
    tp_control_slot_header_set_pool_id(&e, 1);
    tp_control_slot_header_set_payload_offset(&e, 0);
    tp_control_slot_header_set_timestamp_ns(&e, 123);
    tp_control_slot_header_set_meta_version(&e, 7);
    tp_control_slot_header_put_header_bytes(&e, th, sizeof th);
    CHECK_EQ_I64(tp_control_slot_header_encode_end(&e), 256);

    uint8_t want[256] = {0};
    unhex("0B 00 00 00 00 00 00 00 10 00 00 00 01 00 00 00 01 00 00 00 00 00"
          "7B 00 00 00 00 00 00 00 07 00 00 00", want, 34);
    unhex("C0 00 00 00 B8 00 34 00 84 03 01 00 09 00 01 00 02 00 00 00 00 00 00"
          "02 00 00 00 02 00 00 00", want + 60, 31);
    unhex("08 00 00 00 04 00 00 00", want + 115, 8);
    CHECK(memcmp(slot, want, 256) == 0);

    tp_control_slot_header_dec_t d;
    CHECK(tp_control_slot_header_decode_headerless(&d, slot, sizeof slot) == 0);
    uint32_t hl = 0;
    const uint8_t *hb = tp_control_slot_header_header_bytes(&d, &hl);
    CHECK_EQ_U64(hl, 192);
    tp_control_tensor_header_dec_t td;
    CHECK(tp_control_tensor_header_decode(&td, hb, hl) == 0);
    CHECK_EQ_I64(tp_control_tensor_header_dims(&td, 1), 2);
    CHECK_EQ_I64(tp_control_tensor_header_strides(&td, 0), 8);
    CHECK_EQ_I64(tp_control_tensor_header_dims(&td, 8), 0); /* out of range index reads 0 */
    CHECK_EQ_U64(tp_control_tensor_header_max_dims(&td), 8);
}

static void pool_announce_groups_and_var_data(void)
{
    uint8_t buf[256];
    tp_control_shm_pool_announce_enc_t e;
    tp_control_shm_pool_announce_encode_begin(&e, buf, sizeof buf);
    tp_control_shm_pool_announce_set_stream_id(&e, 10000);
    tp_control_shm_pool_announce_set_announce_clock_domain(&e, TP_CONTROL_CLOCK_DOMAIN_MONOTONIC);
    tp_control_shm_pool_announce_set_header_nslots(&e, 8);
    tp_control_shm_pool_announce_set_header_slot_bytes(&e, 256);
    tp_control_shm_pool_announce_payload_pools_encode_begin(&e, 2);
    for (uint16_t i = 0; i < 2; i++) {
        char uri[32];
        int ul = snprintf(uri, sizeof uri, "shm:file?path=/p%u", i);
        tp_control_shm_pool_announce_payload_pools_encode_next(&e);
        tp_control_shm_pool_announce_payload_pools_set_pool_id(&e, (uint16_t)(i + 1));
        tp_control_shm_pool_announce_payload_pools_set_pool_nslots(&e, 8);
        tp_control_shm_pool_announce_payload_pools_set_stride_bytes(&e, 64u << i);
        tp_control_shm_pool_announce_payload_pools_put_region_uri(&e, uri, (size_t)ul);
    }
    tp_control_shm_pool_announce_put_header_region_uri(&e, "shm:file?path=/h", 16);
    long n = tp_control_shm_pool_announce_encode_end(&e);
    CHECK(n > 0);
    tp_control_shm_pool_announce_dec_t d;
    CHECK(tp_control_shm_pool_announce_decode(&d, buf, (size_t)n) == 0);
    CHECK_EQ_U64(tp_control_shm_pool_announce_length(&d), (uint64_t)n);
    tp_control_shm_pool_announce_payload_pools_iter_t it;
    tp_control_shm_pool_announce_payload_pools_iter(&d, &it);
    int count = 0;
    while (tp_control_shm_pool_announce_payload_pools_next(&it) == 1) {
        uint32_t ul;
        const char *uri = tp_control_shm_pool_announce_payload_pools_region_uri(&it, &ul);
        CHECK_EQ_U64(tp_control_shm_pool_announce_payload_pools_stride_bytes(&it), 64u << count);
        CHECK(ul == 17 && uri[16] == (char)('0' + count));
        count++;
    }
    CHECK_EQ_I64(count, 2);
    uint32_t hl;
    const char *h = tp_control_shm_pool_announce_header_region_uri(&d, &hl);
    CHECK(hl == 16 && memcmp(h, "shm:file?path=/h", 16) == 0);
}

int main(void)
{
    RUN(sequence_announce_golden);
    RUN(sequence_announce_two_rules_computed);
    RUN(timestamp_announce_computed);
    RUN(sequence_request_computed);
    RUN(attach_request_worked);
    RUN(keepalive_worked);
    RUN(attach_response_rejected_worked);
    RUN(frame_descriptor_example);
    RUN(annotated_slot_example);
    RUN(pool_announce_groups_and_var_data);
    TP_TEST_END();
}
