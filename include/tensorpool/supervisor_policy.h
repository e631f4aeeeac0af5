/* Supervisor policy file (docs/configuration.md "Supervisor policy"): what a
 * supervisor (W-10.5.a) does on its own. One rule a line:
 *
 *     # a consumer whose drops grow by more than 50 within 5 s: 5 Hz
 *     drops stream=10000 max=50 window=5s rate_hz=5
 *     # at most 2 consumers on any stream; later ones are told REJECTED
 *     max_consumers stream=* count=2
 *
 * The parser is strict: an unknown rule or key, a missing or repeated key, a
 * number out of range or a stray byte is an error "line L, column C: ...".
 */
#ifndef TENSORPOOL_SUPERVISOR_POLICY_H
#define TENSORPOOL_SUPERVISOR_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_SUPERVISOR_MAX_RULES 32
#define TP_SUPERVISOR_ANY_STREAM UINT32_MAX /* stream=* */

typedef enum tp_supervisor_rule_kind_e {
    TP_SUPERVISOR_RULE_DROPS = 1,        /* drops grow by > max within window: force RATE_LIMITED at rate_hz */
    TP_SUPERVISOR_RULE_MAX_CONSUMERS = 2 /* more than count consumers on a stream: the newest are REJECTED */
} tp_supervisor_rule_kind_t;

typedef struct tp_supervisor_rule_s {
    tp_supervisor_rule_kind_t kind;
    uint32_t stream_id;  /* TP_SUPERVISOR_ANY_STREAM for every stream */
    uint64_t max_drops;  /* DROPS: drops_gap + drops_late growth that is tolerated */
    uint64_t window_ns;  /* DROPS */
    uint32_t rate_hz;    /* DROPS */
    uint32_t count;      /* MAX_CONSUMERS */
    uint32_t line;       /* where it was written, for decision logs */
} tp_supervisor_rule_t;

typedef struct tp_supervisor_policy_s {
    uint32_t nrules;
    tp_supervisor_rule_t rules[TP_SUPERVISOR_MAX_RULES];
} tp_supervisor_policy_t;

/* Parse len bytes (need not be NUL-terminated). 0, or -1 with
 * TP_ERR_MALFORMED / TP_ERR_CAPACITY and "line L, column C: what" in
 * tp_errmsg(); *p is then empty. */
TP_API int tp_supervisor_policy_parse(tp_supervisor_policy_t *p, const char *text, size_t len);

/* Read and parse a file (at most 64 KiB); errors name the path. */
TP_API int tp_supervisor_policy_load(tp_supervisor_policy_t *p, const char *path);

/* The rule as a policy line ("drops stream=* max=50 window=5000ms rate_hz=5"). */
TP_API int tp_supervisor_rule_format(const tp_supervisor_rule_t *r, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
