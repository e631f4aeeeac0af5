/* tensorpool.JoinStage: a join agent (sequence, timestamp or latest-value
 * JoinBarrier over real streams) whose outputs Python takes one at a time.
 * By default the stage also runs a MergeMap authority that announces its
 * rules; authority=False waits for another process's announce. Every output
 * the agent delivers during a duty cycle is queued as a tuple of Frames per
 * input; poll() hands them out and sleeps without the GIL in between. */
#include "pytp.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    tp_join_agent_t *agent;
    tp_merge_authority_t *auth;
    tp_client_context_t ctx;
    tp_ipc_context_t ipc; /* the clients' directory and namespace (SHM_BASE_DIR too) */
    tp_join_mode_t mode;
    int busy;
    int failed;
    PyObject *pending; /* list of output tuples */
    Py_ssize_t live;    /* frames alive */
    tp_join_agent_t *closed_agent; /* closed while frames lived: still mapped until the last goes */
    tp_merge_authority_t *closed_auth;
    uint64_t last_out;  /* out_seq / out_time of the newest output (explain's default) */
} JoinObject;

static uint64_t join_gen(PyObject *owner)
{
    const JoinObject *self = (const JoinObject *)owner;
    if (self->agent == NULL) return UINT64_MAX;
    tp_join_agent_stats_t s;
    tp_join_agent_stats(self->agent, &s);
    /* any mapping released or replaced changes it (conservative: a new one too) */
    return s.mappings + s.disconnects + s.input_epoch_changes + s.leases_lost;
}

static void join_frame_gone(PyObject *owner)
{
    JoinObject *self = (JoinObject *)owner;
    if (--self->live == 0 && self->closed_agent != NULL) {
        tp_join_agent_destroy(self->closed_agent);
        tp_merge_authority_destroy(self->closed_auth);
        self->closed_agent = NULL;
        self->closed_auth = NULL;
    }
}

static const char *status_name(tp_join_input_status_t s)
{
    return s == TP_JOIN_INPUT_READY ? "ready" : s == TP_JOIN_INPUT_STALE ? "stale" : "absent";
}

static PyObject *make_output(JoinObject *self, const tp_join_output_t *out)
{
    PyObject *inputs = PyTuple_New(out->input_count);
    if (inputs == NULL) return NULL;
    for (uint32_t i = 0; i < out->input_count; i++) {
        const tp_join_input_t *in = &out->inputs[i];
        PyObject *frames = PyTuple_New(in->frame_count);
        if (frames == NULL) goto fail;
        const tp_meta_store_t *ms = self->agent != NULL ? tp_join_agent_input_meta(self->agent, in->stream_id) : NULL;
        for (uint32_t k = 0; k < in->frame_count; k++) {
            PyObject *f = pytp_frame_new((PyObject *)self, join_gen, join_frame_gone, &self->live, in->stream_id,
                                         in->epoch, &in->frames[k]);
            if (f == NULL) {
                Py_DECREF(frames);
                goto fail;
            }
            PyTuple_SET_ITEM(frames, k, f);
            if (ms != NULL && in->frames[k].has_view) { /* the version its slot header names, as join_agent.h says */
                const uint32_t v = in->frames[k].view.header.meta_version;
                pytp_frame_set_meta(f, v, tp_meta_current(ms, v));
            }
        }
        PyObject *t = Py_BuildValue("(ksKIN)", (unsigned long)in->stream_id, status_name(in->status),
                                    (unsigned long long)in->epoch, (unsigned)in->dropped, frames);
        if (t == NULL) goto fail;
        PyTuple_SET_ITEM(inputs, i, t);
    }
    PyObject *time = out->out_time == UINT64_MAX ? (Py_INCREF(Py_None), Py_None) : PyLong_FromUnsignedLongLong(out->out_time);
    if (time == NULL) goto fail;
    return Py_BuildValue("(kKKNLN)", (unsigned long)out->out_stream_id, (unsigned long long)out->epoch,
                         (unsigned long long)out->out_seq, time, (long long)out->now_ns, inputs);
fail:
    Py_DECREF(inputs);
    return NULL;
}

static void on_output(void *clientd, const tp_join_output_t *out)
{
    JoinObject *self = clientd;
    if (self->failed) return;
    PyObject *o = make_output(self, out);
    if (o == NULL || PyList_Append(self->pending, o) != 0) self->failed = 1;
    Py_XDECREF(o);
    self->last_out = out->mode == TP_JOIN_MODE_TIMESTAMP ? out->out_time : out->out_seq;
}

static int parse_mode(const char *s, tp_join_mode_t *mode)
{
    if (strcmp(s, "sequence") == 0) *mode = TP_JOIN_MODE_SEQUENCE;
    else if (strcmp(s, "timestamp") == 0) *mode = TP_JOIN_MODE_TIMESTAMP;
    else if (strcmp(s, "latest") == 0) *mode = TP_JOIN_MODE_LATEST_VALUE;
    else {
        PyErr_Format(PyExc_ValueError, "mode must be 'sequence', 'timestamp' or 'latest', got '%s'", s);
        return -1;
    }
    return 0;
}

/* One rule: (kind, stream_id, value[, source]). */
static int add_rule(tp_merge_map_t *map, PyObject *rule)
{
    const char *kind, *source = "slot_header";
    unsigned long stream;
    long long value;
    if (!PyArg_ParseTuple(rule, "skL|s;a rule is (kind, stream_id, value[, source])", &kind, &stream, &value, &source))
        return -1;
    tp_timestamp_source_t src;
    if (strcmp(source, "slot_header") == 0) src = TP_TS_SOURCE_SLOT_HEADER;
    else if (strcmp(source, "descriptor") == 0) src = TP_TS_SOURCE_FRAME_DESCRIPTOR;
    else {
        PyErr_Format(PyExc_ValueError, "source must be 'slot_header' or 'descriptor', got '%s'", source);
        return -1;
    }
    int rc;
    if (strcmp(kind, "offset") == 0) rc = tp_merge_map_add_offset(map, (uint32_t)stream, (int32_t)value);
    else if (strcmp(kind, "window") == 0) rc = tp_merge_map_add_window(map, (uint32_t)stream, (uint32_t)value);
    else if (strcmp(kind, "offset_ns") == 0) rc = tp_merge_map_add_offset_ns(map, (uint32_t)stream, src, value);
    else if (strcmp(kind, "window_ns") == 0) rc = tp_merge_map_add_window_ns(map, (uint32_t)stream, src, (uint64_t)value);
    else {
        PyErr_Format(PyExc_ValueError, "rule kind must be offset, window, offset_ns or window_ns, got '%s'", kind);
        return -1;
    }
    if (rc != 0) {
        pytp_raise_lib("rule");
        return -1;
    }
    return 0;
}

static int join_init(JoinObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"mode", "rules", "out_stream_id", "epoch", "lateness_ns", "stale_timeout_ns", "authority",
                         "attach_via_driver", "trigger_stream_id", "max_frames_per_input", NULL};
    const char *mode_s;
    PyObject *rules, *stale = Py_None;
    unsigned long out_stream, trigger = 0, max_frames = 0;
    unsigned long long epoch = 1, lateness = 0;
    int authority = 1, via_driver = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sOk|KKOppkk", kw, &mode_s, &rules, &out_stream, &epoch, &lateness,
                                     &stale, &authority, &via_driver, &trigger, &max_frames))
        return -1;
    if (self->agent != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "JoinStage already initialised");
        return -1;
    }
    if (parse_mode(mode_s, &self->mode) != 0) return -1;
    PyObject *seq = PySequence_Fast(rules, "rules must be a sequence of (kind, stream_id, value) tuples");
    if (seq == NULL) return -1;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || n > TP_JOIN_AGENT_MAX_INPUTS) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "a join needs 1..%d rules, got %zd", TP_JOIN_AGENT_MAX_INPUTS, n);
        return -1;
    }
    tp_merge_map_t map;
    const tp_merge_kind_t kind = self->mode == TP_JOIN_MODE_TIMESTAMP ? TP_MERGE_KIND_TIMESTAMP : TP_MERGE_KIND_SEQUENCE;
    if (tp_merge_map_init(&map, kind, (uint32_t)n) != 0) {
        Py_DECREF(seq);
        pytp_raise_lib("JoinStage");
        return -1;
    }
    int rc = -1;
    tp_merge_map_reset(&map, (uint32_t)out_stream, epoch);
    if (kind == TP_MERGE_KIND_TIMESTAMP && tp_merge_map_set_clock(&map, TP_CLOCK_MONOTONIC, lateness) != 0) {
        pytp_raise_lib("JoinStage");
        goto out;
    }
    if (stale != Py_None) {
        const unsigned long long ns = PyLong_AsUnsignedLongLong(stale);
        if (PyErr_Occurred()) goto out;
        if (tp_merge_map_set_stale_timeout(&map, ns) != 0) {
            pytp_raise_lib("JoinStage");
            goto out;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (add_rule(&map, PySequence_Fast_GET_ITEM(seq, i)) != 0) goto out;
    tp_client_context_init(&self->ctx);
    tp_ipc_context_init(&self->ipc);
    self->ipc.base_dir = self->ctx.base_dir;
    self->ipc.namespace_name = self->ctx.ns;
    if (authority) {
        tp_merge_authority_config_t acfg;
        tp_merge_authority_config_init(&acfg);
        acfg.ipc = &self->ipc;
        acfg.channel = self->ctx.channel;
        acfg.control_stream_id = self->ctx.control_stream_id;
        if (tp_merge_authority_create(&acfg, &self->auth) != 0 ||
            tp_merge_authority_put(self->auth, &map, tp_clock_monotonic_ns()) < 0) {
            pytp_raise_lib("JoinStage authority");
            goto out;
        }
    }
    self->pending = PyList_New(0);
    if (self->pending == NULL) goto out;
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, self->mode, (uint32_t)out_stream, epoch);
    for (uint32_t i = 0; i < map.rule_count; i++) {
        int dup = 0;
        for (uint32_t j = 0; j < cfg.input_count; j++) dup |= cfg.inputs[j].stream_id == map.rules[i].input_stream_id;
        if (!dup && tp_join_agent_config_add_input(&cfg, map.rules[i].input_stream_id, 0) != 0) {
            pytp_raise_lib("JoinStage");
            goto out;
        }
    }
    cfg.ipc = &self->ipc;
    cfg.channel = self->ctx.channel;
    cfg.control_stream_id = self->ctx.control_stream_id;
    cfg.shm_base_dir = self->ctx.base_dir; /* zero-copy views of the inputs */
    cfg.attach_via_driver = via_driver;
    cfg.client = &self->ctx;
    cfg.trigger_stream_id = (uint32_t)trigger;
    cfg.max_frames_per_input = (uint32_t)max_frames;
    cfg.on_output = on_output;
    cfg.clientd = self;
    cfg.authority = self->auth;
    if (tp_join_agent_create(&cfg, &self->agent) != 0) {
        self->agent = NULL;
        pytp_raise_lib("JoinStage");
        goto out;
    }
    rc = 0;
out:
    tp_merge_map_close(&map);
    Py_DECREF(seq);
    if (rc != 0) {
        tp_merge_authority_destroy(self->auth);
        self->auth = NULL;
    }
    return rc;
}

static void join_release(JoinObject *self)
{
    if (self->live > 0 && self->closed_agent == NULL) { /* the last frame releases them */
        self->closed_agent = self->agent;
        self->closed_auth = self->auth;
        self->agent = NULL;
        self->auth = NULL;
        return;
    }
    tp_join_agent_destroy(self->agent);
    self->agent = NULL;
    tp_merge_authority_destroy(self->auth);
    self->auth = NULL;
}

static void join_dealloc(JoinObject *self)
{
    Py_CLEAR(self->pending); /* no frame is left: they hold a reference */
    join_release(self);
    tp_join_agent_destroy(self->closed_agent);
    tp_merge_authority_destroy(self->closed_auth);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *join_poll(JoinObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"timeout", NULL};
    PyObject *timeout = NULL;
    int64_t deadline, sleep_ns = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O", kw, &timeout)) return NULL;
    if (timeout == NULL) deadline = 0;
    else if (pytp_deadline(timeout, &deadline) != 0) return NULL;
    if (pytp_open(self->agent, "join stage") != 0 || pytp_enter(&self->busy, "JoinStage") != 0) return NULL;
    PyObject *r = NULL;
    self->failed = 0;
    for (;;) {
        if (PyList_GET_SIZE(self->pending) > 0) {
            r = PyList_GET_ITEM(self->pending, 0);
            Py_INCREF(r);
            if (PyList_SetSlice(self->pending, 0, 1, NULL) != 0) Py_CLEAR(r);
            break;
        }
        const int64_t now = tp_clock_monotonic_ns();
        int work = 0;
        if (self->auth != NULL) work += tp_merge_authority_do_work(self->auth, now) > 0;
        const int n = tp_join_agent_do_work(self->agent, now);
        if (self->failed) break;
        if (n < 0) {
            pytp_raise_lib("poll");
            break;
        }
        work += n;
        if (PyList_GET_SIZE(self->pending) > 0) continue;
        if (now >= deadline) {
            r = Py_None;
            Py_INCREF(r);
            break;
        }
        if (work > 0) {
            sleep_ns = 0;
            continue;
        }
        if (pytp_idle(sleep_ns = pytp_backoff(sleep_ns)) != 0) break;
    }
    pytp_leave(&self->busy);
    return r;
}

static PyObject *join_meta(JoinObject *self, PyObject *arg)
{
    const unsigned long stream_id = PyLong_AsUnsignedLong(arg);
    if (stream_id == (unsigned long)-1 && PyErr_Occurred()) return NULL;
    if (pytp_open(self->agent, "join stage") != 0) return NULL;
    const tp_meta_store_t *ms = stream_id <= UINT32_MAX ? tp_join_agent_input_meta(self->agent, (uint32_t)stream_id) : NULL;
    if (ms == NULL) return pytp_raise(pytp_Error, TP_ERR_NOT_FOUND, "meta: stream %lu is not an input of this stage", stream_id);
    return pytp_meta_dict(ms);
}

static PyObject *join_stats(JoinObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pytp_open(self->agent, "join stage") != 0) return NULL;
    tp_join_agent_stats_t s;
    tp_join_agent_stats(self->agent, &s);
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
#define F(x) pytp_dict_u64(d, #x, s.x)
    if (F(duty_cycles) || F(outputs) || F(outputs_with_stale) || F(outputs_waited) || F(descriptors) ||
        F(announces_applied) || F(announces_refreshed) || F(announces_invalid) || F(announces_ignored) ||
        F(requests_sent) || F(malformed) || F(frames_read) || F(frames_dropped) || F(frames_unmapped) ||
        F(outputs_without_view) || F(mappings) || F(map_failures) || F(disconnects) || F(input_epoch_changes) ||
        F(control_loss) || F(unbound_rules) || F(leases) || F(leases_lost) || F(announces_refused) ||
        F(epoch_blocks) || F(outputs_incomplete) || F(descriptors_other_epoch) || F(descriptors_not_in_slot) ||
        F(descriptors_replayed) || F(descriptors_foreign) || F(control_foreign)) {
        Py_DECREF(d);
        return NULL;
    }
#undef F
    return d;
}

static PyObject *join_status(JoinObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pytp_open(self->agent, "join stage") != 0) return NULL;
    tp_join_agent_status_t st;
    tp_join_agent_status(self->agent, &st);
    return Py_BuildValue("{s:s,s:s,s:k,s:L,s:K}", "state", tp_join_agent_state_name(st.state), "reason", st.reason,
                         "stream_id", (unsigned long)st.stream_id, "since_ns", (long long)st.since_ns, "wanted_epoch",
                         (unsigned long long)st.wanted_epoch);
}

static PyObject *join_explain(JoinObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"out", NULL};
    PyObject *outo = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O", kw, &outo)) return NULL;
    if (pytp_open(self->agent, "join stage") != 0) return NULL;
    uint64_t out = self->mode == TP_JOIN_MODE_SEQUENCE ? self->last_out + 1 : self->last_out;
    if (outo != Py_None) {
        out = PyLong_AsUnsignedLongLong(outo);
        if (PyErr_Occurred()) return NULL;
    }
    tp_join_explain_t e[TP_JOIN_AGENT_MAX_INPUTS];
    const int n = tp_join_barrier_explain(tp_join_agent_barrier(self->agent), out, (uint64_t)tp_clock_monotonic_ns(), e,
                                          TP_JOIN_AGENT_MAX_INPUTS);
    if (n < 0) return pytp_raise_lib("explain");
    const int m = n < TP_JOIN_AGENT_MAX_INPUTS ? n : TP_JOIN_AGENT_MAX_INPUTS;
    PyObject *l = PyList_New(m);
    for (int i = 0; l != NULL && i < m; i++) {
        char buf[256];
        tp_join_explain_format(&e[i], buf, sizeof buf);
        PyObject *t = Py_BuildValue("{s:k,s:s,s:O,s:s}", "stream_id", (unsigned long)e[i].stream_id, "status",
                                    tp_join_explain_status_name(e[i].status), "stale", e[i].stale ? Py_True : Py_False,
                                    "text", buf);
        if (t == NULL) Py_CLEAR(l);
        else PyList_SET_ITEM(l, i, t);
    }
    return l;
}

static PyObject *join_close(JoinObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pytp_enter(&self->busy, "JoinStage") != 0) return NULL;
    if (self->pending != NULL) PyList_SetSlice(self->pending, 0, PY_SSIZE_T_MAX, NULL); /* frames hold us */
    join_release(self);
    pytp_leave(&self->busy);
    Py_RETURN_NONE;
}

static PyMethodDef join_methods[] = {
    {"poll", (PyCFunction)(void (*)(void))join_poll, METH_VARARGS | METH_KEYWORDS,
     "poll(timeout=0) -> tuple | None\n\nThe next output as (out_stream_id, epoch, out_seq, out_time, now_ns, "
     "inputs), inputs a tuple of (stream_id, status, epoch, dropped, frames) in rule order; None on timeout. The "
     "GIL is released while waiting. (tensorpool.JoinStage wraps this in JoinOutput.)"},
    {"stats", (PyCFunction)join_stats, METH_NOARGS, "stats() -> dict[str, int]\n\nThe agent's counters."},
    {"meta", (PyCFunction)join_meta, METH_O,
     "meta(stream_id) -> dict | None\n\nThe metadata the stage holds for one input, as Consumer.meta() (None "
     "before any arrived); its frames' meta_current says whether it describes them. Error if stream_id is not "
     "an input."},
    {"status", (PyCFunction)join_status, METH_NOARGS,
     "status() -> dict\n\nstate ('flowing', 'blocked', 'degraded'), reason, stream_id, since_ns, wanted_epoch."},
    {"explain", (PyCFunction)(void (*)(void))join_explain, METH_VARARGS | METH_KEYWORDS,
     "explain(out=None) -> list[dict]\n\nWhy the output `out` (default: the next one) is or is not ready, one entry "
     "per rule: stream_id, status (e.g. 'LAGGING'), stale, text."},
    {"close", (PyCFunction)join_close, METH_NOARGS, "close()\n\nRelease subscriptions, mappings and the authority."},
    PYTP_CONTEXT_METHODS,
    {NULL, NULL, 0, NULL}};

PyTypeObject pytp_JoinStageType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tensorpool._tensorpool.JoinStage",
    .tp_basicsize = sizeof(JoinObject),
    .tp_dealloc = (destructor)join_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "JoinStage(mode, rules, out_stream_id, epoch=1, lateness_ns=0, stale_timeout_ns=None, authority=True, "
              "attach_via_driver=True, trigger_stream_id=0, max_frames_per_input=0)\n\nLow-level join stage; use "
              "tensorpool.JoinStage.",
    .tp_methods = join_methods,
    .tp_init = (initproc)join_init,
    .tp_new = PyType_GenericNew,
};
