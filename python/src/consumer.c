/* tensorpool.Consumer: frames of one stream as zero-copy Frame objects.
 * poll() runs the C consumer's duty cycle one descriptor at a time and
 * sleeps without the GIL while nothing arrives. */
#include "pytp.h"

typedef struct {
    PyObject_HEAD
    tp_consumer_t *c;
    uint32_t stream_id;
    int busy;
    PyObject *got; /* the frame the handler made during this poll */
    int failed;    /* the handler could not make it (exception set) */
    Py_ssize_t live;    /* frames alive */
    tp_consumer_t *closed; /* closed while frames lived: still mapped until the last goes */
} ConsumerObject;

static uint64_t consumer_gen(PyObject *owner)
{
    const ConsumerObject *self = (const ConsumerObject *)owner;
    if (self->c == NULL) return UINT64_MAX;
    if (!tp_consumer_is_mapped(self->c)) return UINT64_MAX - 1;
    return tp_consumer_maps(self->c);
}

static void consumer_frame_gone(PyObject *owner)
{
    ConsumerObject *self = (ConsumerObject *)owner;
    if (--self->live == 0 && self->closed != NULL) {
        tp_consumer_close(self->closed);
        self->closed = NULL;
    }
}

static void on_frame(void *clientd, const tp_frame_t *f)
{
    ConsumerObject *self = clientd;
    if (self->got != NULL || self->failed) return; /* limit 1: never */
    /* The view the consumer read the frame with (its internal_) is what
     * tp_frame_intact re-checks; the Frame keeps a copy of it. */
    tp_join_frame_t jf = {.seq = f->seq, .timestamp_ns = f->descriptor_timestamp_ns, .has_view = 1,
                          .trace_id = f->trace_id};
    jf.view = *(const tp_shm_view_t *)f->internal_;
    self->got = pytp_frame_new((PyObject *)self, consumer_gen, consumer_frame_gone, &self->live, f->stream_id, f->epoch, &jf);
    if (self->got == NULL) self->failed = 1;
    else pytp_frame_set_meta(self->got, f->meta_version, f->meta_current);
}

static int consumer_init(ConsumerObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"stream_id", "per_consumer_stream_id", NULL};
    unsigned long stream_id;
    int per = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "k|i", kw, &stream_id, &per)) return -1;
    if (self->c != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Consumer already initialised");
        return -1;
    }
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    if (tp_consumer_open(&self->c, &ctx, (uint32_t)stream_id, per) != 0) {
        self->c = NULL;
        pytp_raise_lib("Consumer");
        return -1;
    }
    self->stream_id = (uint32_t)stream_id;
    return 0;
}

static void consumer_dealloc(ConsumerObject *self)
{
    Py_CLEAR(self->got);
    tp_consumer_close(self->c); /* frames hold a reference: none is left */
    tp_consumer_close(self->closed);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* One duty cycle, at most one frame. 1 frame in self->got, 0 none, -1 error. */
static int poll_once(ConsumerObject *self, int *work)
{
    *work = tp_consumer_poll(self->c, tp_clock_monotonic_ns(), on_frame, self, 1);
    if (self->failed) return -1;
    if (*work < 0) {
        pytp_raise_lib("poll");
        return -1;
    }
    return self->got != NULL;
}

static PyObject *consumer_poll(ConsumerObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"timeout", NULL};
    PyObject *timeout = NULL;
    int64_t deadline, sleep_ns = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O", kw, &timeout)) return NULL;
    if (timeout == NULL) deadline = 0; /* default: no wait */
    else if (pytp_deadline(timeout, &deadline) != 0) return NULL;
    if (pytp_open(self->c, "consumer") != 0 || pytp_enter(&self->busy, "Consumer") != 0) return NULL;
    self->failed = 0;
    PyObject *r = NULL;
    for (;;) {
        if (self->got != NULL) { /* kept by wait_mapped */
            r = self->got;
            self->got = NULL;
            break;
        }
        int work;
        const int rc = poll_once(self, &work);
        if (rc < 0) break;
        if (rc > 0) continue;
        if (tp_clock_monotonic_ns() >= deadline) {
            r = Py_None;
            Py_INCREF(r);
            break;
        }
        if (work > 0) { /* busy: poll again at once */
            sleep_ns = 0;
            continue;
        }
        if (pytp_idle(sleep_ns = pytp_backoff(sleep_ns)) != 0) break;
    }
    pytp_leave(&self->busy);
    return r;
}

static PyObject *consumer_wait_mapped(ConsumerObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    int64_t deadline, sleep_ns = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O", kw, &timeout) || pytp_deadline(timeout, &deadline) != 0)
        return NULL;
    if (pytp_open(self->c, "consumer") != 0 || pytp_enter(&self->busy, "Consumer") != 0) return NULL;
    PyObject *r = NULL;
    self->failed = 0;
    for (;;) { /* a frame that arrives meanwhile is kept for the next poll() */
        const int64_t now = tp_clock_monotonic_ns();
        if (tp_consumer_is_mapped(self->c)) {
            r = Py_True;
            break;
        }
        int work;
        if (self->got == NULL && poll_once(self, &work) < 0) break;
        if (tp_consumer_is_mapped(self->c)) continue;
        if (now >= deadline) {
            r = Py_False;
            break;
        }
        if (pytp_idle(sleep_ns = pytp_backoff(sleep_ns)) != 0) break;
    }
    pytp_leave(&self->busy);
    Py_XINCREF(r);
    return r;
}

static PyObject *consumer_iter(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

/* Iteration blocks for the next frame (None-free); ends when the consumer is closed. */
static PyObject *consumer_iternext(ConsumerObject *self)
{
    if (self->c == NULL) return NULL;
    PyObject *args = PyTuple_New(0);
    PyObject *kwargs = Py_BuildValue("{s:O}", "timeout", Py_None);
    PyObject *r = args && kwargs ? consumer_poll(self, args, kwargs) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    return r;
}

static PyObject *consumer_counters(ConsumerObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pytp_open(self->c, "consumer") != 0) return NULL;
    tp_shm_drops_t d;
    tp_consumer_counters_t k;
    tp_consumer_drops(self->c, &d);
    tp_consumer_counters(self->c, &k);
    PyObject *r = PyDict_New();
    if (r == NULL) return NULL;
    if (pytp_dict_u64(r, "accepted", d.accepted) || pytp_dict_u64(r, "drops_gap", d.drops_gap) ||
        pytp_dict_u64(r, "drops_late", d.drops_late) || pytp_dict_u64(r, "drops_invalid", d.drops_invalid) ||
        pytp_dict_u64(r, "duplicates", d.duplicates) || pytp_dict_u64(r, "resyncs", d.resyncs) ||
        pytp_dict_u64(r, "lost_unmapped", k.lost_unmapped) || pytp_dict_u64(r, "lost_other_epoch", k.lost_other_epoch) ||
        pytp_dict_u64(r, "lost_stale_epoch", k.lost_stale_epoch) ||
        pytp_dict_u64(r, "refused_foreign", k.refused_foreign) ||
        pytp_dict_u64(r, "refused_unwritten", k.refused_unwritten) ||
        pytp_dict_u64(r, "refused_replayed", k.refused_replayed) ||
        pytp_dict_u64(r, "refused_announce", k.refused_announce) ||
        pytp_dict_u64(r, "refused_config", k.refused_config) || pytp_dict_u64(r, "maps", tp_consumer_maps(self->c)) ||
        pytp_dict_u64(r, "faults", tp_consumer_faults(self->c, NULL))) {
        Py_DECREF(r);
        return NULL;
    }
    return r;
}

static PyObject *consumer_meta(ConsumerObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pytp_open(self->c, "consumer") != 0) return NULL;
    return pytp_meta_dict(tp_consumer_meta(self->c));
}

static PyObject *consumer_set_max_rate(ConsumerObject *self, PyObject *arg)
{
    const unsigned long hz = PyLong_AsUnsignedLong(arg);
    if (hz == (unsigned long)-1 && PyErr_Occurred()) return NULL;
    if (hz > UINT32_MAX) return PyErr_Format(PyExc_ValueError, "set_max_rate: %lu Hz is above 2^32-1", hz);
    if (pytp_open(self->c, "consumer") != 0 || pytp_enter(&self->busy, "Consumer") != 0) return NULL;
    const int rc = tp_consumer_set_max_rate(self->c, (uint32_t)hz);
    pytp_leave(&self->busy);
    if (rc != 0) return pytp_raise_lib("set_max_rate");
    Py_RETURN_NONE;
}

static PyObject *consumer_rate_stats(ConsumerObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pytp_open(self->c, "consumer") != 0) return NULL;
    tp_consumer_rate_stats_t st;
    tp_consumer_rate_stats(self->c, &st);
    return pytp_rate_stats_dict(&st);
}

static PyObject *consumer_close(ConsumerObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pytp_enter(&self->busy, "Consumer") != 0) return NULL;
    Py_CLEAR(self->got); /* a frame kept by wait_mapped holds us: break the cycle */
    /* every frame's generation check fails from now on; the mapping goes with the last of them */
    if (self->live > 0 && self->closed == NULL) self->closed = self->c;
    else tp_consumer_close(self->c);
    self->c = NULL;
    pytp_leave(&self->busy);
    Py_RETURN_NONE;
}

PYTP_GETTER(consumer, ConsumerObject, mapped, PyBool_FromLong(self->c != NULL && tp_consumer_is_mapped(self->c)))
PYTP_GETTER(consumer, ConsumerObject, epoch, PyLong_FromUnsignedLongLong(self->c != NULL ? tp_consumer_epoch(self->c) : 0))
PYTP_GETTER(consumer, ConsumerObject, stream_id, PyLong_FromUnsignedLong(self->stream_id))

static PyGetSetDef consumer_getset[] = {
    {"mapped", (getter)consumer_get_mapped, NULL, "True when the stream's regions are mapped.", NULL},
    {"epoch", (getter)consumer_get_epoch, NULL, "Epoch of the mapping (0 when unmapped).", NULL},
    {"stream_id", (getter)consumer_get_stream_id, NULL, "The stream.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef consumer_methods[] = {
    {"poll", (PyCFunction)(void (*)(void))consumer_poll, METH_VARARGS | METH_KEYWORDS,
     "poll(timeout=0) -> Frame | None\n\nThe next frame, waiting up to timeout seconds (None: forever) with the "
     "GIL released; None on timeout. Also drives the lease, announces and QoS: call it regularly."},
    {"wait_mapped", (PyCFunction)(void (*)(void))consumer_wait_mapped, METH_VARARGS | METH_KEYWORDS,
     "wait_mapped(timeout=None) -> bool\n\nDrive the consumer until the stream is mapped (GIL released while "
     "waiting)."},
    {"counters", (PyCFunction)consumer_counters, METH_NOARGS,
     "counters() -> dict[str, int]\n\naccepted, drops_gap, drops_late, drops_invalid, duplicates, resyncs (summed "
     "over every epoch), lost_* and refused_* (tp_consumer_counters_t), maps, faults."},
    {"meta", (PyCFunction)consumer_meta, METH_NOARGS,
     "meta() -> dict | None\n\nThe stream's metadata as the consumer holds it (poll() keeps it current), None "
     "before any arrived: name, summary, producer_id, epoch, announced_meta_version (the DataSourceAnnounce; None/0 "
     "until one came), meta_version (of the attributes held; 0: none yet), attributes {key: str | bytes} (format "
     "'bytes' as bytes, other formats as str when valid UTF-8), formats {key: format}, blob ({data, type, "
     "meta_version, checksum} or None). Compare frame.meta_version, frame.meta_current."},
    {"set_max_rate", (PyCFunction)consumer_set_max_rate, METH_O,
     "set_max_rate(hz)\n\nAsk for at most hz frames a second (RATE_LIMITED, W-11.b/c); 0: every frame (STREAM). "
     "The producer may pace a per-consumer stream; otherwise the consumer decimates by descriptor timestamps. "
     "Takes effect with the next descriptor."},
    {"rate_stats", (PyCFunction)consumer_rate_stats, METH_NOARGS,
     "rate_stats() -> dict\n\nmax_rate_hz (0: STREAM), granted (the producer paces our stream), delivered, "
     "skipped_local (frames passed over here to keep the rate), skipped_producer (frames the producer held back)."},
    {"close", (PyCFunction)consumer_close, METH_NOARGS,
     "close()\n\nUnmap and detach. Frames still held report themselves overwritten; while they (or arrays over "
     "them) live, the mapping and the lease stay, so no view points at unmapped memory."},
    PYTP_CONTEXT_METHODS,
    {NULL, NULL, 0, NULL}};

PyTypeObject pytp_ConsumerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tensorpool.Consumer",
    .tp_basicsize = sizeof(ConsumerObject),
    .tp_dealloc = (destructor)consumer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Consumer(stream_id, per_consumer_stream_id=0)\n\n"
              "Attach to a stream as a consumer (settings from the environment, as C clients). Iterating yields "
              "frames, blocking for each:\n\n"
              "    for frame in consumer:\n        with frame:\n            use(frame.array)\n\n"
              "Not thread-safe: use one consumer from one thread.",
    .tp_methods = consumer_methods,
    .tp_getset = consumer_getset,
    .tp_init = (initproc)consumer_init,
    .tp_new = PyType_GenericNew,
    .tp_iter = consumer_iter,
    .tp_iternext = (iternextfunc)consumer_iternext,
};
