/* Schema 903 glue: MergeMap announces and requests to and from tp_merge_map_t
 * (docs/spec/join-barrier.md §4.7, §4.8), on top of the generated codec in
 * tensorpool/codec/merge.h.
 *
 * Decoding checks structure only (D11): enum values and parameter pairing are
 * handed on raw, so a semantically bad map for our stream reaches
 * tp_join_barrier_apply and invalidates the active map there.
 */
#ifndef TENSORPOOL_MERGE_MAP_CODEC_H
#define TENSORPOOL_MERGE_MAP_CODEC_H

#include "tensorpool/merge_map.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_MERGE_MAP_SCHEMA_ID 903u

enum {
    TP_MERGE_TEMPLATE_SEQUENCE_ANNOUNCE = 1,
    TP_MERGE_TEMPLATE_SEQUENCE_REQUEST = 2,
    TP_MERGE_TEMPLATE_TIMESTAMP_ANNOUNCE = 3,
    TP_MERGE_TEMPLATE_TIMESTAMP_REQUEST = 4
};

/* Decoding outcomes (§4.7). */
typedef enum tp_merge_decode_e {
    TP_MERGE_DECODE_OK = 0,
    TP_MERGE_DECODE_NOT_MINE,            /* other schema or template: not an error */
    TP_MERGE_DECODE_MALFORMED,
    TP_MERGE_DECODE_UNSUPPORTED_VERSION,
    TP_MERGE_DECODE_CAPACITY             /* more rules than the map holds; root fields still set */
} tp_merge_decode_t;

typedef struct tp_merge_request_s {
    tp_merge_kind_t kind; /* which map is asked for */
    uint32_t out_stream_id;
    uint64_t epoch;
} tp_merge_request_t;

/* Which MergeMap message `buf` holds, for a control-stream dispatcher (JB-14.1,
 * §3.10): the template id 1..4, 0 when it is not ours (schemaId != 903 or an
 * unknown template: skip it, another handler may own it), -1 when shorter
 * than a message header (malformed). */
TP_INTERNAL int tp_merge_msg_classify(const void *buf, size_t len);

/* Decode a Sequence- or TimestampMergeMapAnnounce into `map` (its kind is set
 * from the template; rules go into its storage). Reason in tp_errmsg() for
 * anything but OK. */
TP_INTERNAL tp_merge_decode_t tp_merge_announce_decode(tp_merge_map_t *map, const void *buf, size_t len);

/* Decode a Sequence- or TimestampMergeMapRequest. */
TP_INTERNAL tp_merge_decode_t tp_merge_request_decode(tp_merge_request_t *req, const void *buf, size_t len);

/* Bytes an announce of `map` takes: 8 + block + 4 + n * entry (E5). */
TP_INTERNAL size_t tp_merge_announce_length(const tp_merge_map_t *map);

/* Encode `map` as its kind's announce. Validates first (E3: V1–V4 with
 * `max_rules`, 0 = 65535) and checks `cap` against the whole message (E5);
 * on refusal writes nothing and returns -1. Returns the length written. */
TP_INTERNAL long tp_merge_announce_encode(const tp_merge_map_t *map, uint32_t max_rules, void *buf, size_t cap);

/* Encode a request (20 bytes). Returns the length or -1. */
TP_INTERNAL long tp_merge_request_encode(const tp_merge_request_t *req, void *buf, size_t cap);

TP_INTERNAL const char *tp_merge_decode_name(tp_merge_decode_t outcome);

#ifdef __cplusplus
}
#endif
#endif
