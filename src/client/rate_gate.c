/* Rate gate (include/tensorpool/rate_gate.h; W-11.b/c, RL-4.b). */
#include "tensorpool/rate_gate.h"

void tp_rate_gate_init(tp_rate_gate_t *g, uint32_t max_rate_hz)
{
    g->max_rate_hz = max_rate_hz;
    g->period_ns = max_rate_hz != 0 ? 1000000000ull / max_rate_hz : 0;
    tp_rate_gate_reset(g);
}

void tp_rate_gate_reset(tp_rate_gate_t *g)
{
    g->due_ns = 0;
    g->have = 0;
}

int tp_rate_gate_eligible(const tp_rate_gate_t *g, uint64_t ts_ns)
{
    if (g->period_ns == 0 || !g->have || ts_ns >= g->due_ns) return 1;
    /* more than a whole period before the grid's last frame: the clock went
     * back (a new producer); treat it as a fresh start */
    return g->due_ns - ts_ns > 2 * g->period_ns;
}

void tp_rate_gate_take(tp_rate_gate_t *g, uint64_t ts_ns)
{
    if (g->period_ns == 0) return;
    /* on the grid when close to it; a late frame (after a pause) or one
     * from a clock that went back starts the grid again at itself */
    const int on_grid = g->have && ts_ns >= g->due_ns && ts_ns - g->due_ns <= g->period_ns / 2;
    g->due_ns = (on_grid ? g->due_ns : ts_ns) + g->period_ns;
    g->have = 1;
}

uint64_t tp_rate_gate_frame_time(uint64_t descriptor_ts_ns, uint64_t slot_ts_ns, uint64_t now_ns)
{
    if (descriptor_ts_ns != TP_RATE_TS_NULL && descriptor_ts_ns != 0) return descriptor_ts_ns;
    if (slot_ts_ns != TP_RATE_TS_NULL && slot_ts_ns != 0) return slot_ts_ns;
    return now_ns;
}
