/* BridgeFrameChunk on the wire (schema 902): parse a received message into
 * a view, and encode one into a buffer (an Aeron claim on the sender). */
#include "tensorpool/bridge_assembler.h"

#include "tensorpool/codec/bridge.h"
#include "tensorpool/crc32c.h"
#include "tensorpool/error.h"

#include <string.h>

int tp_bridge_chunk_parse(const void *buf, size_t len, bool crc, tp_bridge_chunk_t *out)
{
    tp_bridge_bridge_frame_chunk_dec_t d;
    /* The generated decoder checks the schema id first (BR-7.2.b), then the
     * template, version, blockLength 49 and both var-data lengths. */
    if (tp_bridge_bridge_frame_chunk_decode(&d, buf, len) < 0)
        return -1;
    const size_t end = tp_bridge_bridge_frame_chunk_length(&d);
    out->has_crc = false;
    out->crc = 0;
    if (crc) {
        if (len - end != 4)
            return tp_err_set(TP_ERR_MALFORMED, "BridgeFrameChunk: %zu bytes after the message, the CRC32C trailer is 4",
                              len - end);
        memcpy(&out->crc, (const uint8_t *)buf + end, 4);
        out->has_crc = true;
    } else if (len != end) {
        return tp_err_set(TP_ERR_MALFORMED, "BridgeFrameChunk: %zu stray bytes after the message", len - end);
    }
    out->stream_id = tp_bridge_bridge_frame_chunk_stream_id(&d);
    out->epoch = tp_bridge_bridge_frame_chunk_epoch(&d);
    out->seq = tp_bridge_bridge_frame_chunk_seq(&d);
    out->trace_id = tp_bridge_bridge_frame_chunk_trace_id(&d);
    out->chunk_index = tp_bridge_bridge_frame_chunk_chunk_index(&d);
    out->chunk_count = tp_bridge_bridge_frame_chunk_chunk_count(&d);
    out->chunk_offset = tp_bridge_bridge_frame_chunk_chunk_offset(&d);
    out->chunk_length = tp_bridge_bridge_frame_chunk_chunk_length(&d);
    out->payload_length = tp_bridge_bridge_frame_chunk_payload_length(&d);
    out->header_included = tp_bridge_bridge_frame_chunk_header_included(&d);
    out->header = tp_bridge_bridge_frame_chunk_header_bytes(&d, &out->header_len);
    out->payload = tp_bridge_bridge_frame_chunk_payload_bytes(&d, &out->payload_len);
    return 0;
}

size_t tp_bridge_chunk_size(bool header_included, uint32_t payload_len, bool crc)
{
    return TP_SBE_HEADER_LENGTH + TP_BRIDGE_BRIDGE_FRAME_CHUNK_BLOCK_LENGTH + 2u * TP_SBE_VAR_HEADER_LENGTH +
           (header_included ? TP_BRIDGE_HEADER_BYTES : 0u) + payload_len + (crc ? 4u : 0u);
}

long tp_bridge_chunk_encode(const tp_bridge_chunk_t *c, bool crc, void *buf, size_t cap)
{
    tp_bridge_bridge_frame_chunk_enc_t e;
    if (tp_bridge_bridge_frame_chunk_encode_begin(&e, buf, cap) < 0)
        return -1;
    tp_bridge_bridge_frame_chunk_set_stream_id(&e, c->stream_id);
    tp_bridge_bridge_frame_chunk_set_epoch(&e, c->epoch);
    tp_bridge_bridge_frame_chunk_set_seq(&e, c->seq);
    tp_bridge_bridge_frame_chunk_set_trace_id(&e, c->trace_id);
    tp_bridge_bridge_frame_chunk_set_chunk_index(&e, c->chunk_index);
    tp_bridge_bridge_frame_chunk_set_chunk_count(&e, c->chunk_count);
    tp_bridge_bridge_frame_chunk_set_chunk_offset(&e, c->chunk_offset);
    tp_bridge_bridge_frame_chunk_set_chunk_length(&e, c->chunk_length);
    tp_bridge_bridge_frame_chunk_set_payload_length(&e, c->payload_length);
    tp_bridge_bridge_frame_chunk_set_header_included(&e, c->header_included);
    tp_bridge_bridge_frame_chunk_put_header_bytes(&e, c->header, c->header_len);
    tp_bridge_bridge_frame_chunk_put_payload_bytes(&e, c->payload, c->payload_len);
    long n = tp_bridge_bridge_frame_chunk_encode_end(&e);
    if (n < 0)
        return -1;
    if (crc) {
        if ((size_t)n + 4 > cap)
            return tp_err_set(TP_ERR_CAPACITY, "BridgeFrameChunk: no room for the CRC32C trailer");
        const uint32_t v = tp_crc32c(0, c->payload, c->payload_len);
        memcpy((uint8_t *)buf + n, &v, 4);
        n += 4;
    }
    return n;
}
