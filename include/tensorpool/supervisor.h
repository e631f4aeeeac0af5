/* Supervisor (W-10.5.a): watches ShmPoolAnnounce, DataSourceAnnounce and
 * QosConsumer/QosProducer through the read-only monitor (monitor.h) and
 * steers consumers per a policy (supervisor_policy.h) with ConsumerConfig
 * and ControlResponse on the control stream (docs/spec/wire.md "Project
 * rules: ControlResponse and the supervisor", W-P1..W-P4).
 *
 * A supervisor keeps no state on disk: one restarted relearns what it needs
 * from QoS within one window, and every decision is re-sent each resend
 * period while its consumer lives, so a consumer that missed it (lossy
 * control stream) or a supervisor that restarted converges again.
 *
 * Single-threaded: tp_supervisor_poll does everything. Not a hot path.
 */
#ifndef TENSORPOOL_SUPERVISOR_H
#define TENSORPOOL_SUPERVISOR_H

#include "tensorpool/client.h"
#include "tensorpool/supervisor_policy.h"

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_supervisor_config_s {
    tp_client_context_t ctx;      /* base dir, namespace, stream ids */
    tp_supervisor_policy_t policy;
    int dry_run;                  /* decide and report, send nothing */
    int64_t resend_ns;            /* re-send period of standing decisions; 0: 1 s */
    int64_t live_window_ns;       /* a consumer is live if its keepalive is this recent; 0: 3 s */
} tp_supervisor_config_t;

/* ctx from tp_client_context_init (environment applied), empty policy. */
TP_API void tp_supervisor_config_init(tp_supervisor_config_t *cfg);

typedef struct tp_supervisor_decision_s {
    int64_t at_ns;
    tp_supervisor_rule_kind_t kind;
    uint32_t rule_line;       /* policy line of the rule that fired */
    uint32_t stream_id;
    uint32_t consumer_id;
    uint64_t drops;           /* DROPS: growth seen within the window */
    uint64_t window_ns;       /* DROPS */
    uint32_t rate_hz;         /* DROPS: the forced rate */
    uint32_t consumers;       /* MAX_CONSUMERS: live consumers on the stream */
    int sent;                 /* 0 in a dry run */
    char text[224];           /* one line for logs */
} tp_supervisor_decision_t;

typedef void (*tp_supervisor_decision_handler_t)(void *clientd, const tp_supervisor_decision_t *d);

typedef struct tp_supervisor_stats_s {
    uint64_t decisions;       /* new decisions (each logged once) */
    uint64_t configs_sent;    /* ConsumerConfig messages, re-sends included */
    uint64_t responses_sent;  /* ControlResponse messages, re-sends included */
    uint32_t consumers;       /* live consumers watched */
    uint32_t streams;         /* streams announced */
} tp_supervisor_stats_t;

typedef struct tp_supervisor_s tp_supervisor_t;

/* handler (may be NULL) is called once per new decision. 0 or -1. */
TP_API int tp_supervisor_open(tp_supervisor_t **out, const tp_supervisor_config_t *cfg,
                              tp_supervisor_decision_handler_t handler, void *clientd);
/* One duty cycle: read the monitor's streams, evaluate the rules, send what
 * is due. Returns the work count, or -1. */
TP_API int tp_supervisor_poll(tp_supervisor_t *s, int64_t now_ns);
TP_API void tp_supervisor_stats(const tp_supervisor_t *s, tp_supervisor_stats_t *out);
/* NULL is a no-op. */
TP_API void tp_supervisor_close(tp_supervisor_t *s);

#ifdef __cplusplus
}
#endif
#endif
