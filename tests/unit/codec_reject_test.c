/* Decoders reject malformed input with the right reason and never read past
 * the buffer (run under ASan in CI; inputs live in exact-size heap blocks). */
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/codec/merge.h"
#include "tp_test.h"

#include <stdlib.h>

static uint8_t msg[256];
static long msg_len;

static void make_qos_consumer(void)
{
    tp_control_qos_consumer_enc_t e;
    tp_control_qos_consumer_encode_begin(&e, msg, sizeof msg);
    tp_control_qos_consumer_set_stream_id(&e, 1000);
    tp_control_qos_consumer_set_mode(&e, TP_CONTROL_MODE_STREAM);
    msg_len = tp_control_qos_consumer_encode_end(&e);
}

static int decode_qos(const uint8_t *src, size_t len)
{
    uint8_t *p = malloc(len + 1);
    memcpy(p, src, len);
    tp_control_qos_consumer_dec_t d;
    int rc = tp_control_qos_consumer_decode(&d, p, len);
    free(p);
    return rc;
}

static void wrong_schema_id_is_not_mine(void) /* docs/spec/wire.md 4.1 rule 2 */
{
    make_qos_consumer();
    tp_sbe_put_u16(msg + 4, 901);
    CHECK(decode_qos(msg, (size_t)msg_len) < 0);
    CHECK(tp_errcode() == TP_ERR_NOT_MINE);
}

static void other_template_is_not_mine(void)
{
    make_qos_consumer();
    tp_sbe_put_u16(msg + 2, 6);
    CHECK(decode_qos(msg, (size_t)msg_len) < 0);
    CHECK(tp_errcode() == TP_ERR_NOT_MINE);
    CHECK(tp_codec_find(900, 99) == NULL && tp_errcode() == TP_ERR_NOT_MINE);
    CHECK(strstr(tp_errmsg(), "unknown template") != NULL);
    CHECK(tp_codec_find(999, 1) == NULL && strstr(tp_errmsg(), "unknown schema") != NULL);
}

static void newer_version_is_unsupported(void) /* docs/spec/wire.md D-16 */
{
    make_qos_consumer();
    tp_sbe_put_u16(msg + 6, 2);
    CHECK(decode_qos(msg, (size_t)msg_len) < 0);
    CHECK(tp_errcode() == TP_ERR_UNSUPPORTED);
    tp_sbe_put_u16(msg + 6, 0);
    CHECK(decode_qos(msg, (size_t)msg_len) < 0);
    CHECK(tp_errcode() == TP_ERR_MALFORMED);
}

static void strict_block_length_must_match(void) /* docs/spec/wire.md D-16, docs/spec/driver.md 4.5 */
{
    make_qos_consumer();
    tp_sbe_put_u16(msg, 40);
    CHECK(decode_qos(msg, (size_t)msg_len) < 0);
    CHECK(tp_errcode() == TP_ERR_MALFORMED);
    make_qos_consumer();
    tp_sbe_put_u16(msg, 42);
    CHECK(decode_qos(msg, (size_t)msg_len + 1) < 0);
    CHECK(tp_errcode() == TP_ERR_MALFORMED);
}

static void invalid_enum_rejected_in_strict_schemas(void) /* W-15.8.a, docs/spec/wire.md 4.1 rule 6 */
{
    make_qos_consumer();
    msg[8 + 40] = 7; /* mode */
    CHECK(decode_qos(msg, (size_t)msg_len) < 0);
    CHECK(tp_errcode() == TP_ERR_INVALID_ENUM);
    CHECK(strstr(tp_errmsg(), "mode") != NULL);
    msg[8 + 40] = 255; /* the SBE null is never valid */
    CHECK(decode_qos(msg, (size_t)msg_len) < 0);
    CHECK(tp_errcode() == TP_ERR_INVALID_ENUM);

    uint8_t buf[64];
    tp_driver_shm_attach_request_enc_t e;
    tp_driver_shm_attach_request_encode_begin(&e, buf, sizeof buf);
    tp_driver_shm_attach_request_set_role(&e, TP_DRIVER_ROLE_CONSUMER);
    tp_driver_shm_attach_request_set_publish_mode(&e, 255); /* optional enum: null allowed */
    long n = tp_driver_shm_attach_request_encode_end(&e);
    tp_driver_shm_attach_request_dec_t d;
    CHECK(tp_driver_shm_attach_request_decode(&d, buf, (size_t)n) == 0);
    CHECK(!tp_driver_shm_attach_request_publish_mode_is_present(&d));
    buf[8 + 21] = 3; /* publishMode 3 is undefined */
    CHECK(tp_driver_shm_attach_request_decode(&d, buf, (size_t)n) < 0 && tp_errcode() == TP_ERR_INVALID_ENUM);
    buf[8 + 21] = 1;
    buf[8 + 16] = 0; /* role 0 is undefined */
    CHECK(tp_driver_shm_attach_request_decode(&d, buf, (size_t)n) < 0 && tp_errcode() == TP_ERR_INVALID_ENUM);
}

static long make_sequence_announce(uint8_t *buf, size_t cap, uint16_t rules)
{
    tp_merge_sequence_merge_map_announce_enc_t e;
    tp_merge_sequence_merge_map_announce_encode_begin(&e, buf, cap);
    tp_merge_sequence_merge_map_announce_set_out_stream_id(&e, 5);
    tp_merge_sequence_merge_map_announce_rules_encode_begin(&e, rules);
    for (uint16_t i = 0; i < rules; i++) {
        tp_merge_sequence_merge_map_announce_rules_encode_next(&e);
        tp_merge_sequence_merge_map_announce_rules_set_input_stream_id(&e, 100u + i);
        tp_merge_sequence_merge_map_announce_rules_set_rule_type(&e, 7); /* invalid, passed raw (D11) */
    }
    return tp_merge_sequence_merge_map_announce_encode_end(&e);
}

static void merge_enums_are_passed_raw(void) /* docs/spec/join-barrier.md 4.7 D11 */
{
    uint8_t buf[128];
    long n = make_sequence_announce(buf, sizeof buf, 1);
    tp_merge_sequence_merge_map_announce_dec_t d;
    CHECK(tp_merge_sequence_merge_map_announce_decode(&d, buf, (size_t)n) == 0);
    tp_merge_sequence_merge_map_announce_rules_iter_t it;
    tp_merge_sequence_merge_map_announce_rules_iter(&d, &it);
    CHECK(tp_merge_sequence_merge_map_announce_rules_next(&it) == 1);
    CHECK_EQ_U64(tp_merge_sequence_merge_map_announce_rules_rule_type(&it), 7);
    CHECK(!tp_merge_merge_rule_type_is_valid(7));
}

static void merge_larger_block_lengths_are_skipped(void) /* docs/spec/join-barrier.md 4.7 D5, D7, D10 */
{
    /* Root block 24 (4 unknown bytes), entries of 16 (3 unknown bytes), 4
     * trailing bytes after the last entry. */
    uint8_t buf[128] = {0};
    size_t n = 0;
    tp_sbe_put_u16(buf, 24);
    tp_sbe_put_u16(buf + 2, 1);
    tp_sbe_put_u16(buf + 4, 903);
    tp_sbe_put_u16(buf + 6, 1);
    tp_sbe_put_u32(buf + 8, 2000);
    tp_sbe_put_u64(buf + 12, 3);
    tp_sbe_put_u64(buf + 20, 77);
    memset(buf + 28, 0xEE, 4);
    n = 32;
    tp_sbe_put_u16(buf + n, 16);
    tp_sbe_put_u16(buf + n + 2, 2);
    n += 4;
    for (int i = 0; i < 2; i++) {
        tp_sbe_put_u32(buf + n, 1001u + (uint32_t)i);
        buf[n + 4] = 1;
        tp_sbe_put_i32(buf + n + 5, -2);
        tp_sbe_put_u32(buf + n + 9, 4);
        memset(buf + n + 13, 0xEE, 3);
        n += 16;
    }
    n += 4;
    tp_merge_sequence_merge_map_announce_dec_t d;
    CHECK(tp_merge_sequence_merge_map_announce_decode(&d, buf, n) == 0);
    CHECK_EQ_U64(tp_merge_sequence_merge_map_announce_stale_timeout_ns(&d), 77);
    tp_merge_sequence_merge_map_announce_rules_iter_t it;
    tp_merge_sequence_merge_map_announce_rules_iter(&d, &it);
    for (uint32_t i = 0; i < 2; i++) {
        CHECK(tp_merge_sequence_merge_map_announce_rules_next(&it) == 1);
        CHECK_EQ_U64(tp_merge_sequence_merge_map_announce_rules_input_stream_id(&it), 1001 + i);
        CHECK_EQ_I64(tp_merge_sequence_merge_map_announce_rules_offset(&it), -2);
        CHECK_EQ_U64(tp_merge_sequence_merge_map_announce_rules_window_size(&it), 4);
    }
    CHECK(tp_merge_sequence_merge_map_announce_rules_next(&it) == 0);
    /* Smaller than the schema's: malformed. */
    tp_sbe_put_u16(buf + 32, 12);
    CHECK(tp_merge_sequence_merge_map_announce_decode(&d, buf, n) < 0 && tp_errcode() == TP_ERR_MALFORMED);
    tp_sbe_put_u16(buf + 32, 16);
    tp_sbe_put_u16(buf, 19);
    CHECK(tp_merge_sequence_merge_map_announce_decode(&d, buf, n) < 0 && tp_errcode() == TP_ERR_MALFORMED);
}

static void group_count_too_large(void) /* docs/spec/join-barrier.md 4.7 D8 */
{
    uint8_t buf[128];
    long n = make_sequence_announce(buf, sizeof buf, 2);
    tp_sbe_put_u16(buf + 30, 60000);
    tp_merge_sequence_merge_map_announce_dec_t d;
    CHECK(tp_merge_sequence_merge_map_announce_decode(&d, buf, (size_t)n) < 0);
    CHECK(tp_errcode() == TP_ERR_TRUNCATED);
    CHECK(strstr(tp_errmsg(), "too large") != NULL);
}

static void var_data_length_checked(void) /* docs/spec/wire.md 4.1: maxValue 2^30, never past the buffer */
{
    uint8_t buf[64];
    tp_control_control_response_enc_t e;
    tp_control_control_response_encode_begin(&e, buf, sizeof buf);
    tp_control_control_response_set_code(&e, TP_CONTROL_RESPONSE_CODE_OK);
    tp_control_control_response_put_error_message(&e, "ok", 2);
    long n = tp_control_control_response_encode_end(&e);
    tp_control_control_response_dec_t d;
    CHECK(tp_control_control_response_decode(&d, buf, (size_t)n) == 0);
    tp_sbe_put_u32(buf + 20, 3); /* one byte more than present */
    CHECK(tp_control_control_response_decode(&d, buf, (size_t)n) < 0 && tp_errcode() == TP_ERR_TRUNCATED);
    tp_sbe_put_u32(buf + 20, UINT32_C(0x40000001));
    CHECK(tp_control_control_response_decode(&d, buf, (size_t)n) < 0 && tp_errcode() == TP_ERR_MALFORMED);
    tp_sbe_put_u32(buf + 20, UINT32_MAX);
    CHECK(tp_control_control_response_decode(&d, buf, (size_t)n) < 0);
}

static void null_and_tiny_buffers(void)
{
    tp_control_frame_descriptor_dec_t d;
    CHECK(tp_control_frame_descriptor_decode(&d, NULL, 0) < 0);
    uint8_t b[7] = {0};
    CHECK(tp_control_frame_descriptor_decode(&d, b, sizeof b) < 0 && tp_errcode() == TP_ERR_TRUNCATED);
}

/* A fixed message's decoder takes a shortcut when the header is exactly the
 * one this build writes (tp_sbe_dec_fixed). Whatever the bytes, it must agree
 * with the full check: same verdict, same reason, same decode. Every header
 * byte is tried with each single bit flipped and every length up to one past
 * the message. */
static int descriptor_agrees_with_full_check(const uint8_t *src, size_t len)
{
    uint8_t *p = malloc(len + 1); /* exact-size block: ASan sees a read past len */
    memcpy(p, src, len);
    tp_control_frame_descriptor_dec_t fast, full;
    memset(&fast, 0, sizeof fast);
    memset(&full, 0, sizeof full);
    const int rc_fast = tp_control_frame_descriptor_decode(&fast, p, len);
    const tp_errcode_t err_fast = tp_errcode();
    const int rc_full = tp_sbe_dec_wrap(&tp_control_frame_descriptor_layout, &full.d, full.step_off, p, len, false);
    int same = rc_fast == rc_full && (rc_full == 0 || err_fast == tp_errcode());
    if (rc_full == 0)
        same = same && fast.d.buf == full.d.buf && fast.d.len == full.d.len && fast.d.root == full.d.root &&
               fast.d.end == full.d.end && fast.d.block_length == full.d.block_length && fast.d.version == full.d.version;
    free(p);
    return same;
}

static void fixed_decode_shortcut_agrees_with_full_check(void)
{
    uint8_t b[64];
    tp_control_frame_descriptor_enc_t e;
    tp_control_frame_descriptor_encode_begin(&e, b, sizeof b);
    tp_control_frame_descriptor_set_stream_id(&e, 7);
    tp_control_frame_descriptor_set_seq(&e, 99);
    const long n = tp_control_frame_descriptor_encode_end(&e);
    CHECK(n == TP_SBE_HEADER_LENGTH + TP_CONTROL_FRAME_DESCRIPTOR_BLOCK_LENGTH);
    tp_control_frame_descriptor_dec_t d;
    CHECK(tp_control_frame_descriptor_decode(&d, b, (size_t)n) == 0 && tp_control_frame_descriptor_seq(&d) == 99);
    for (long len = 0; len <= n + 1; len++) CHECK(descriptor_agrees_with_full_check(b, (size_t)len));
    int refused = 0;
    for (int byte = 0; byte < TP_SBE_HEADER_LENGTH; byte++)
        for (int bit = 0; bit < 8; bit++) {
            b[byte] ^= (uint8_t)(1u << bit);
            CHECK(descriptor_agrees_with_full_check(b, (size_t)n));
            refused += tp_control_frame_descriptor_decode(&d, b, (size_t)n) < 0;
            b[byte] ^= (uint8_t)(1u << bit);
        }
    CHECK(refused == 64); /* every flip is refused (strict schema): the shortcut waved none through */
}

static void encoder_keeps_schema_order(void)
{
    uint8_t buf[128];
    tp_control_consumer_config_enc_t e;
    /* var data out of order: controlChannel then descriptorChannel */
    tp_control_consumer_config_encode_begin(&e, buf, sizeof buf);
    CHECK(tp_control_consumer_config_put_control_channel(&e, "x", 1) == 0);
    CHECK(tp_control_consumer_config_put_descriptor_channel(&e, "y", 1) < 0);
    CHECK(tp_control_consumer_config_encode_end(&e) < 0);
    /* skipped fields are written empty */
    tp_control_consumer_config_encode_begin(&e, buf, sizeof buf);
    tp_control_consumer_config_set_use_shm(&e, TP_CONTROL_BOOL_TRUE);
    tp_control_consumer_config_set_mode(&e, TP_CONTROL_MODE_STREAM);
    CHECK(tp_control_consumer_config_put_descriptor_channel(&e, "tp:ipc", 6) == 0);
    long n = tp_control_consumer_config_encode_end(&e);
    CHECK_EQ_I64(n, 8 + 18 + 4 + 10 + 4);
    tp_control_consumer_config_dec_t d;
    CHECK(tp_control_consumer_config_decode(&d, buf, (size_t)n) == 0);
    uint32_t l;
    tp_control_consumer_config_payload_fallback_uri(&d, &l);
    CHECK_EQ_U64(l, 0);
}

static void encoder_group_counts_enforced(void)
{
    uint8_t buf[128];
    tp_merge_sequence_merge_map_announce_enc_t e;
    tp_merge_sequence_merge_map_announce_encode_begin(&e, buf, sizeof buf);
    tp_merge_sequence_merge_map_announce_rules_encode_begin(&e, 2);
    tp_merge_sequence_merge_map_announce_rules_encode_next(&e);
    CHECK(tp_merge_sequence_merge_map_announce_encode_end(&e) < 0); /* 1 of 2 entries */

    tp_merge_sequence_merge_map_announce_encode_begin(&e, buf, sizeof buf);
    tp_merge_sequence_merge_map_announce_rules_encode_begin(&e, 1);
    CHECK(tp_merge_sequence_merge_map_announce_rules_encode_next(&e) == 0);
    CHECK(tp_merge_sequence_merge_map_announce_rules_encode_next(&e) < 0); /* beyond the count */
    CHECK(tp_merge_sequence_merge_map_announce_encode_end(&e) < 0);

    /* entry setters without an entry mark the encoding failed */
    tp_merge_sequence_merge_map_announce_encode_begin(&e, buf, sizeof buf);
    tp_merge_sequence_merge_map_announce_rules_set_input_stream_id(&e, 1);
    CHECK(tp_merge_sequence_merge_map_announce_encode_end(&e) < 0);
}

static void encoder_never_writes_past_capacity(void)
{
    uint8_t buf[40];
    memset(buf, 0x5A, sizeof buf);
    tp_control_control_response_enc_t e;
    CHECK(tp_control_control_response_encode_begin(&e, buf, 10) < 0); /* 8 + 12 does not fit */
    tp_control_control_response_set_code(&e, 1);                      /* ignored, marks failure */
    CHECK(tp_control_control_response_encode_end(&e) < 0);
    CHECK(buf[0] == 0x5A);
    CHECK(tp_control_control_response_encode_begin(&e, buf, 30) == 0);
    CHECK(tp_control_control_response_put_error_message(&e, "0123456789", 10) < 0); /* 20 + 14 > 30 */
    CHECK(tp_control_control_response_encode_end(&e) < 0);
    CHECK(buf[30] == 0x5A);
}

static void view_reads_raw_values_validation_would_refuse(void)
{
    uint8_t sb[64] = {0};
    tp_sbe_put_i16(sb + 24, 9); /* regionType 9: invalid enum */
    tp_control_shm_region_superblock_dec_t d;
    CHECK(tp_control_shm_region_superblock_decode_headerless(&d, sb, sizeof sb) < 0);
    CHECK(tp_errcode() == TP_ERR_INVALID_ENUM);
    CHECK(tp_control_shm_region_superblock_view_headerless(&d, sb, sizeof sb) == 0);
    CHECK_EQ_I64(tp_control_shm_region_superblock_region_type(&d), 9);
    CHECK(tp_control_shm_region_superblock_view_headerless(&d, sb, 63) < 0); /* root block must fit */
    CHECK(tp_errcode() == TP_ERR_TRUNCATED);
}

int main(void)
{
    RUN(wrong_schema_id_is_not_mine);
    RUN(other_template_is_not_mine);
    RUN(newer_version_is_unsupported);
    RUN(strict_block_length_must_match);
    RUN(invalid_enum_rejected_in_strict_schemas);
    RUN(merge_enums_are_passed_raw);
    RUN(merge_larger_block_lengths_are_skipped);
    RUN(group_count_too_large);
    RUN(var_data_length_checked);
    RUN(null_and_tiny_buffers);
    RUN(fixed_decode_shortcut_agrees_with_full_check);
    RUN(encoder_keeps_schema_order);
    RUN(encoder_group_counts_enforced);
    RUN(encoder_never_writes_past_capacity);
    RUN(view_reads_raw_values_validation_would_refuse);
    TP_TEST_END();
}
