/* tensorpool.Producer: claim a slot as a writable numpy array and commit it,
 * or offer a copy of an array. The settings (TP_DIR, stream ids, timers)
 * come from the environment as for every C client (tp_client_context_init). */
#include "pytp.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    tp_producer_t *p;
    uint32_t stream_id;
    int busy;
    int claimed;
    tp_shm_claim_t claim;
    PyObject *claimed_array; /* made read-only at commit: the slot is the consumers' then */
    Py_ssize_t live;          /* claimed arrays alive (through their SlotRef base) */
    tp_producer_t *closed;    /* closed while some lived: still mapped until the last goes */
} ProducerObject;

/* The base object of a claimed array: keeps the producer's mapping while the
 * array lives, even past close(). */
typedef struct {
    PyObject_HEAD
    ProducerObject *owner;
} SlotRefObject;

static void slotref_dealloc(SlotRefObject *r)
{
    ProducerObject *self = r->owner;
    if (--self->live == 0 && self->closed != NULL) {
        tp_producer_close(self->closed);
        self->closed = NULL;
    }
    Py_DECREF(self);
    PyObject_Free(r);
}

PyTypeObject pytp_SlotRefType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tensorpool._SlotRef",
    .tp_basicsize = sizeof(SlotRefObject),
    .tp_dealloc = (destructor)slotref_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Keeps a producer's mapping while an array claimed from it lives.",
};

/* tracing: "per-frame" / "off" (None: leave as is); node: 0..1023 or None
 * (the library's default, stream id modulo 1024). */
static int parse_tracing(PyObject *tracing, PyObject *node, tp_trace_mode_t *mode, int32_t *node_id)
{
    *mode = TP_TRACE_OFF;
    *node_id = -1;
    if (tracing != Py_None) {
        const char *m = PyUnicode_Check(tracing) ? PyUnicode_AsUTF8(tracing) : NULL;
        if (m != NULL && strcmp(m, "per-frame") == 0) *mode = TP_TRACE_PER_FRAME;
        else if (m == NULL || strcmp(m, "off") != 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "tracing must be 'per-frame', 'off' or None");
            return -1;
        }
    }
    if (node != Py_None) {
        const long v = PyLong_AsLong(node);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (v < 0 || v > (long)TP_TRACE_MAX_NODE) {
            PyErr_Format(PyExc_ValueError, "trace_node must be 0..%u, got %ld", TP_TRACE_MAX_NODE, v);
            return -1;
        }
        *node_id = (int32_t)v;
    }
    return 0;
}

static int producer_init(ProducerObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"stream_id", "name", "summary", "create", "tracing", "trace_node", NULL};
    unsigned long stream_id;
    const char *name = NULL, *summary = NULL;
    int create = 0;
    PyObject *tracing = Py_None, *node = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "k|zzp$OO", kw, &stream_id, &name, &summary, &create, &tracing,
                                     &node))
        return -1;
    tp_trace_mode_t mode;
    int32_t node_id;
    if (parse_tracing(tracing, node, &mode, &node_id) != 0) return -1;
    if (self->p != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Producer already initialised");
        return -1;
    }
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    if (tp_producer_open(&self->p, &ctx, (uint32_t)stream_id, create, name, summary) != 0) {
        self->p = NULL;
        pytp_raise_lib("Producer");
        return -1;
    }
    self->stream_id = (uint32_t)stream_id;
    /* tracing=None keeps what $TP_TRACE / $TP_TRACE_NODE chose at open */
    if (tracing != Py_None && tp_producer_set_tracing(self->p, mode, node_id) != 0) {
        pytp_raise_lib("Producer tracing");
        return -1;
    }
    return 0;
}

static void producer_dealloc(ProducerObject *self)
{
    tp_producer_close(self->p);
    tp_producer_close(self->closed);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *producer_do_work(ProducerObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pytp_open(self->p, "producer") != 0) return NULL;
    const int n = tp_producer_do_work(self->p, tp_clock_monotonic_ns());
    if (n < 0) return pytp_raise_lib("do_work");
    return PyLong_FromLong(n);
}

static PyObject *producer_wait_active(ProducerObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    int64_t deadline, sleep_ns = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O", kw, &timeout) || pytp_deadline(timeout, &deadline) != 0)
        return NULL;
    if (pytp_open(self->p, "producer") != 0 || pytp_enter(&self->busy, "Producer") != 0) return NULL;
    PyObject *r = NULL;
    for (;;) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_producer_do_work(self->p, now);
        if (tp_producer_is_active(self->p)) {
            r = Py_True;
            break;
        }
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

/* shape: a sequence of ints -> dims; returns ndims or -1. */
static int parse_shape(PyObject *shape, int32_t dims[TP_TENSOR_MAX_DIMS], uint64_t *elems)
{
    PyObject *seq = PySequence_Fast(shape, "shape must be a sequence of ints");
    if (seq == NULL) return -1;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    *elems = 1;
    if (n < 1 || n > TP_TENSOR_MAX_DIMS) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "shape needs 1..%d dims, got %zd", TP_TENSOR_MAX_DIMS, n);
        return -1;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        const long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, k));
        if ((v == -1 && PyErr_Occurred()) || v < 0 || v > INT32_MAX) {
            Py_DECREF(seq);
            if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "dim %zd out of range: %ld", k, v);
            return -1;
        }
        dims[k] = (int32_t)v;
        *elems *= (uint64_t)v;
    }
    Py_DECREF(seq);
    return (int)n;
}

static int check_active(ProducerObject *self, const char *what)
{
    tp_producer_do_work(self->p, tp_clock_monotonic_ns());
    if (tp_producer_is_active(self->p)) return 0;
    pytp_raise(pytp_Error, TP_ERR_STATE, "%s: stream %u not attached yet (call wait_active first)", what,
               (unsigned)self->stream_id);
    return -1;
}

static PyObject *producer_claim(ProducerObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"shape", "dtype", NULL};
    PyObject *shape;
    PyArray_Descr *descr = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO&", kw, &shape, PyArray_DescrConverter, &descr)) return NULL;
    const int npy = descr->type_num;
    Py_DECREF(descr);
    if (pytp_open(self->p, "producer") != 0) return NULL;
    if (self->claimed) return pytp_raise(pytp_Error, TP_ERR_STATE, "claim: a claimed frame is not committed yet");
    const int dtype = pytp_npy_to_dtype(npy);
    if (dtype < 0) return pytp_raise(pytp_Error, TP_ERR_UNSUPPORTED, "claim: numpy type %d has no tensorpool dtype", npy);
    int32_t dims[TP_TENSOR_MAX_DIMS];
    uint64_t elems;
    const int nd = parse_shape(shape, dims, &elems);
    if (nd < 0) return NULL;
    const uint64_t len = elems * tp_dtype_size(dtype);
    if (len > UINT32_MAX) return pytp_raise(pytp_Error, TP_ERR_CAPACITY, "claim: %llu bytes is too large", (unsigned long long)len);
    tp_tensor_header_t t;
    if (tp_tensor_header_init(&t, (tp_control_dtype_t)dtype, TP_CONTROL_MAJOR_ORDER_ROW, (unsigned)nd, dims) != 0)
        return pytp_raise_lib("claim");
    if (check_active(self, "claim") != 0) return NULL;
    if (tp_producer_claim(self->p, &t, (uint32_t)len, &self->claim) != 0) return pytp_raise_lib("claim");
    self->claimed = 1;
    npy_intp ndims[TP_TENSOR_MAX_DIMS];
    for (int k = 0; k < nd; k++) ndims[k] = dims[k];
    PyObject *a = PyArray_New(&PyArray_Type, nd, ndims, npy, NULL, self->claim.payload, 0, NPY_ARRAY_CARRAY, NULL);
    if (a == NULL) return NULL;
    SlotRefObject *ref = PyObject_New(SlotRefObject, &pytp_SlotRefType);
    if (ref == NULL) {
        Py_DECREF(a);
        return NULL;
    }
    Py_INCREF(self);
    ref->owner = self;
    self->live++;
    if (PyArray_SetBaseObject((PyArrayObject *)a, (PyObject *)ref) < 0) {
        Py_DECREF(a);
        return NULL;
    }
    Py_INCREF(a);
    self->claimed_array = a;
    return a;
}

/* The claimed array stops being writable (views taken from it keep their flags). */
static void release_claimed_array(ProducerObject *self)
{
    if (self->claimed_array != NULL) PyArray_CLEARFLAGS((PyArrayObject *)self->claimed_array, NPY_ARRAY_WRITEABLE);
    Py_CLEAR(self->claimed_array);
}

static int timestamp_arg(PyObject *o, uint64_t *ts)
{
    if (o == NULL || o == Py_None) {
        *ts = (uint64_t)tp_clock_monotonic_ns();
        return 0;
    }
    *ts = PyLong_AsUnsignedLongLong(o);
    return PyErr_Occurred() ? -1 : 0;
}

/* parents: a sequence of trace ids (ints) -> out[], at most
 * TP_TRACE_MAX_PARENTS (TL-D6); the library skips zeros and repeats. */
static int parse_parents(PyObject *parents, uint64_t *out, uint32_t *n)
{
    PyObject *seq = PySequence_Fast(parents, "parents must be a sequence of trace ids (ints)");
    if (seq == NULL) return -1;
    const Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
    if (len > (Py_ssize_t)TP_TRACE_MAX_PARENTS) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "at most %u parents, got %zd", TP_TRACE_MAX_PARENTS, len);
        return -1;
    }
    for (Py_ssize_t k = 0; k < len; k++) {
        out[k] = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(seq, k));
        if (PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    *n = (uint32_t)len;
    return 0;
}

/* The trace_id= / parents= keywords of commit and offer. */
typedef struct {
    int kind; /* 0 none (the producer's tracing mode decides), 1 trace_id, 2 parents */
    uint64_t trace_id;
    uint64_t ids[TP_TRACE_MAX_PARENTS];
    uint32_t nparents;
} trace_args_t;

static int parse_trace_args(const char *what, PyObject *tido, PyObject *parents, trace_args_t *ta)
{
    memset(ta, 0, sizeof *ta);
    if (tido != Py_None && parents != Py_None) {
        pytp_raise(pytp_Error, TP_ERR_INVALID_ARG, "%s: give trace_id (1->1 stage) or parents (join), not both", what);
        return -1;
    }
    if (tido != Py_None) {
        ta->trace_id = PyLong_AsUnsignedLongLong(tido);
        if (PyErr_Occurred()) return -1;
        ta->kind = 1;
    } else if (parents != Py_None) {
        if (parse_parents(parents, ta->ids, &ta->nparents) != 0) return -1;
        ta->kind = 2;
    }
    return 0;
}

static int commit_with(ProducerObject *self, tp_shm_claim_t *c, uint64_t ts, const trace_args_t *ta)
{
    if (ta->kind == 1) return tp_producer_commit_traced(self->p, c, ts, ta->trace_id);
    if (ta->kind == 2) return tp_producer_commit_derived(self->p, c, ts, ta->ids, ta->nparents);
    return tp_producer_commit(self->p, c, ts);
}

static PyObject *producer_commit(ProducerObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"timestamp_ns", "trace_id", "parents", NULL};
    PyObject *tso = Py_None, *tido = Py_None, *parents = Py_None;
    uint64_t ts;
    trace_args_t ta;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O$OO", kw, &tso, &tido, &parents) || timestamp_arg(tso, &ts) != 0 ||
        parse_trace_args("commit", tido, parents, &ta) != 0)
        return NULL;
    if (pytp_open(self->p, "producer") != 0) return NULL;
    if (!self->claimed) return pytp_raise(pytp_Error, TP_ERR_STATE, "commit: nothing claimed");
    self->claimed = 0;
    release_claimed_array(self);
    const uint64_t seq = self->claim.seq;
    if (commit_with(self, &self->claim, ts, &ta) != 0) return pytp_raise_lib("commit");
    return PyLong_FromUnsignedLongLong(seq);
}

static PyObject *producer_set_tracing(ProducerObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"mode", "node", NULL};
    PyObject *tracing, *node = Py_None;
    tp_trace_mode_t mode;
    int32_t node_id;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O", kw, &tracing, &node)) return NULL;
    if (tracing == Py_None) return PyErr_Format(PyExc_ValueError, "tracing must be 'per-frame' or 'off'");
    if (parse_tracing(tracing, node, &mode, &node_id) != 0) return NULL;
    if (pytp_open(self->p, "producer") != 0) return NULL;
    if (tp_producer_set_tracing(self->p, mode, node_id) != 0) return pytp_raise_lib("set_tracing");
    Py_RETURN_NONE;
}

static PyObject *producer_set_publish_timestamp(ProducerObject *self, PyObject *arg)
{
    const int on = PyObject_IsTrue(arg);
    if (on < 0) return NULL;
    if (pytp_open(self->p, "producer") != 0) return NULL;
    tp_producer_set_publish_timestamp(self->p, on != 0);
    Py_RETURN_NONE;
}

static PyObject *producer_trace_stats(ProducerObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pytp_open(self->p, "producer") != 0) return NULL;
    uint64_t sent = 0, dropped = 0;
    tp_producer_trace_stats(self->p, &sent, &dropped);
    return Py_BuildValue("{sKsK}", "links_sent", (unsigned long long)sent, "links_dropped", (unsigned long long)dropped);
}

static PyObject *producer_offer(ProducerObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"array", "timestamp_ns", "trace_id", "parents", NULL};
    PyObject *obj, *tso = Py_None, *tido = Py_None, *parents = Py_None;
    uint64_t ts;
    trace_args_t ta;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O$OO", kw, &obj, &tso, &tido, &parents) ||
        timestamp_arg(tso, &ts) != 0 || parse_trace_args("offer", tido, parents, &ta) != 0)
        return NULL;
    if (pytp_open(self->p, "producer") != 0) return NULL;
    if (self->claimed) return pytp_raise(pytp_Error, TP_ERR_STATE, "offer: a claimed frame is not committed yet");
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OF(obj, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
    if (a == NULL) return NULL;
    PyObject *r = NULL;
    const int dtype = pytp_npy_to_dtype(PyArray_TYPE(a));
    const int nd = PyArray_NDIM(a);
    tp_tensor_header_t t;
    int32_t dims[TP_TENSOR_MAX_DIMS];
    uint64_t seq;
    if (dtype < 0) {
        pytp_raise(pytp_Error, TP_ERR_UNSUPPORTED, "offer: numpy type %d has no tensorpool dtype", PyArray_TYPE(a));
        goto out;
    }
    if (nd < 1 || nd > TP_TENSOR_MAX_DIMS || PyArray_NBYTES(a) > UINT32_MAX) {
        pytp_raise(pytp_Error, TP_ERR_INVALID_ARG, "offer: %d dims, %zd bytes: need 1..%d dims and < 4 GiB", nd,
                   (Py_ssize_t)PyArray_NBYTES(a), TP_TENSOR_MAX_DIMS);
        goto out;
    }
    for (int k = 0; k < nd; k++) dims[k] = (int32_t)PyArray_DIM(a, k);
    if (tp_tensor_header_init(&t, (tp_control_dtype_t)dtype, TP_CONTROL_MAJOR_ORDER_ROW, (unsigned)nd, dims) != 0) {
        pytp_raise_lib("offer");
        goto out;
    }
    if (check_active(self, "offer") != 0) goto out;
    if (ta.kind == 0) {
        if (tp_producer_offer(self->p, &t, PyArray_DATA(a), (uint32_t)PyArray_NBYTES(a), ts, &seq) != 0) {
            pytp_raise_lib("offer");
            goto out;
        }
    } else {
        /* with a trace: claim, copy, commit as commit() would */
        tp_shm_claim_t c;
        if (tp_producer_claim(self->p, &t, (uint32_t)PyArray_NBYTES(a), &c) != 0) {
            pytp_raise_lib("offer");
            goto out;
        }
        memcpy(c.payload, PyArray_DATA(a), (size_t)PyArray_NBYTES(a));
        seq = c.seq;
        if (commit_with(self, &c, ts, &ta) != 0) {
            pytp_raise_lib("offer");
            goto out;
        }
    }
    r = PyLong_FromUnsignedLongLong(seq);
out:
    Py_DECREF(a);
    return r;
}

static PyObject *producer_set_meta(ProducerObject *self, PyObject *arg)
{
    if (pytp_open(self->p, "producer") != 0) return NULL;
    if (!PyDict_Check(arg)) return PyErr_Format(PyExc_TypeError, "set_meta wants a dict of str -> str or bytes");
    enum { MAX_ATTRS = 32 };
    tp_meta_attr_t attrs[MAX_ATTRS];
    PyObject *keep = PyList_New(0); /* encoded values live until the call returns */
    if (keep == NULL) return NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    unsigned n = 0;
    while (PyDict_Next(arg, &pos, &k, &v)) {
        if (n == MAX_ATTRS) {
            Py_DECREF(keep);
            return pytp_raise(pytp_Error, TP_ERR_CAPACITY, "set_meta: more than %d attributes", MAX_ATTRS);
        }
        const char *key = PyUnicode_AsUTF8(k);
        if (key == NULL) goto fail;
        PyObject *b = PyUnicode_Check(v) ? PyUnicode_AsUTF8String(v) : PyBytes_FromObject(v);
        if (b == NULL || PyList_Append(keep, b) != 0) {
            Py_XDECREF(b);
            goto fail;
        }
        Py_DECREF(b);
        attrs[n++] = (tp_meta_attr_t){key, PyUnicode_Check(v) ? "text" : "bytes", PyBytes_AS_STRING(b),
                                      (size_t)PyBytes_GET_SIZE(b)};
    }
    const int rc = tp_producer_set_meta(self->p, attrs, n);
    Py_DECREF(keep);
    if (rc != 0) return pytp_raise_lib("set_meta");
    Py_RETURN_NONE;
fail:
    Py_DECREF(keep);
    return NULL;
}

static PyObject *producer_set_meta_blob(ProducerObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"blob_type", "data", NULL};
    unsigned long type;
    Py_buffer data;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "ky*", kw, &type, &data)) return NULL;
    PyObject *r = NULL;
    if (type > UINT32_MAX) PyErr_Format(PyExc_ValueError, "set_meta_blob: blob_type %lu is above 2^32-1", type);
    else if (pytp_open(self->p, "producer") == 0) {
        if (tp_producer_set_meta_blob(self->p, (uint32_t)type, data.buf, (uint64_t)data.len) != 0)
            pytp_raise_lib("set_meta_blob");
        else r = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&data);
    return r;
}

static PyObject *producer_close(ProducerObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pytp_enter(&self->busy, "Producer") != 0) return NULL;
    release_claimed_array(self);
    if (self->live > 0 && self->closed == NULL) self->closed = self->p; /* arrays still point into it */
    else tp_producer_close(self->p);
    self->p = NULL;
    self->claimed = 0;
    pytp_leave(&self->busy);
    Py_RETURN_NONE;
}

PYTP_GETTER(producer, ProducerObject, active, PyBool_FromLong(self->p != NULL && tp_producer_is_active(self->p)))
PYTP_GETTER(producer, ProducerObject, epoch, PyLong_FromUnsignedLongLong(self->p != NULL ? tp_producer_epoch(self->p) : 0))
PYTP_GETTER(producer, ProducerObject, next_seq, PyLong_FromUnsignedLongLong(self->p != NULL ? tp_producer_next_seq(self->p) : 0))
PYTP_GETTER(producer, ProducerObject, meta_version,
            PyLong_FromUnsignedLong(self->p != NULL ? tp_producer_meta_version(self->p) : 0))
PYTP_GETTER(producer, ProducerObject, stream_id, PyLong_FromUnsignedLong(self->stream_id))
PYTP_GETTER(producer, ProducerObject, last_trace_id,
            PyLong_FromUnsignedLongLong(self->p != NULL ? tp_producer_last_trace_id(self->p) : 0))
PYTP_GETTER(producer, ProducerObject, tracing,
            PyUnicode_FromString(self->p != NULL && tp_producer_trace_mode(self->p) == TP_TRACE_PER_FRAME ? "per-frame"
                                                                                                        : "off"))

static PyGetSetDef producer_getset[] = {
    {"active", (getter)producer_get_active, NULL, "True when attached and mapped (frames can be written).", NULL},
    {"epoch", (getter)producer_get_epoch, NULL, "Epoch of the current mapping (0 when not active).", NULL},
    {"next_seq", (getter)producer_get_next_seq, NULL, "Sequence number the next frame gets.", NULL},
    {"stream_id", (getter)producer_get_stream_id, NULL, "The stream.", NULL},
    {"meta_version", (getter)producer_get_meta_version, NULL,
     "Current meta_version: set_meta with changed attributes and set_meta_blob raise it by one (0: none set).", NULL},
    {"last_trace_id", (getter)producer_get_last_trace_id, NULL,
     "Trace id of the last committed frame (0 if none or untraced; docs/spec/tracelink.md).", NULL},
    {"tracing", (getter)producer_get_tracing, NULL, "Tracing mode: 'per-frame' or 'off' (see set_tracing).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef producer_methods[] = {
    {"wait_active", (PyCFunction)(void (*)(void))producer_wait_active, METH_VARARGS | METH_KEYWORDS,
     "wait_active(timeout=None) -> bool\n\nDrive the lease until the stream is attached (True) or timeout seconds "
     "pass (False). The GIL is released while waiting."},
    {"do_work", (PyCFunction)producer_do_work, METH_NOARGS,
     "do_work() -> int\n\nDrive the lease, QoS and metadata. claim/offer call it; call it yourself when idle for "
     "longer than the lease keepalive interval."},
    {"claim", (PyCFunction)(void (*)(void))producer_claim, METH_VARARGS | METH_KEYWORDS,
     "claim(shape, dtype) -> numpy.ndarray\n\nStart a frame: the returned C-ordered writable array *is* the slot "
     "in shared memory. Fill it, then commit(). commit() makes it read-only; do not keep it (or views of it) "
     "after that: the slot belongs to the consumers, then to a later frame."},
    {"commit", (PyCFunction)(void (*)(void))producer_commit, METH_VARARGS | METH_KEYWORDS,
     "commit(timestamp_ns=None, *, trace_id=None, parents=None) -> int\n\nPublish the claimed frame (capture "
     "time: now on the monotonic clock unless given). Returns its seq.\n\nLineage (docs/spec/tracelink.md): by "
     "default the frame gets a new trace id when tracing is 'per-frame', else 0. trace_id=T passes an input "
     "frame's trace id on unchanged (a 1->1 stage). parents=[...] marks a frame made from several input frames "
     "(a join output: JoinOutput.trace_parents()): it gets a new trace id whatever the mode, and a TraceLinkSet "
     "naming the parents (zeros and repeats skipped, at most 256) is published after it. Not both. "
     "last_trace_id then gives the frame's id."},
    {"offer", (PyCFunction)(void (*)(void))producer_offer, METH_VARARGS | METH_KEYWORDS,
     "offer(array, timestamp_ns=None, *, trace_id=None, parents=None) -> int\n\nCopy an array into a new frame and "
     "publish it. Returns its seq. trace_id= and parents= mean what they mean for commit()."},
    {"set_tracing", (PyCFunction)(void (*)(void))producer_set_tracing, METH_VARARGS | METH_KEYWORDS,
     "set_tracing(mode, node=None)\n\nmode 'per-frame': every commit/offer gives its frame a new, strictly "
     "increasing, non-zero trace id minted with node id `node` (0..1023; None: stream id modulo 1024); 'off': "
     "trace id 0. The initial mode comes from the tracing= argument, else $TP_TRACE / $TP_TRACE_NODE."},
    {"set_publish_timestamp", (PyCFunction)producer_set_publish_timestamp, METH_O,
     "set_publish_timestamp(on)\n\nWhether each frame's FrameDescriptor carries its publish time (default True,\n"
     "or False for every producer when TP_PUBLISH_TIMESTAMP=off). Off saves a clock read per commit;\n"
     "join rules timed by the FrameDescriptor never become ready on frames without it."},
    {"trace_stats", (PyCFunction)producer_trace_stats, METH_NOARGS,
     "trace_stats() -> dict\n\nTraceLinkSets published ('links_sent') and dropped because they could not be "
     "offered ('links_dropped')."},
    {"set_meta", (PyCFunction)producer_set_meta, METH_O,
     "set_meta(attrs: dict[str, str | bytes])\n\nReplace the DataSourceMeta attributes (str values as 'text', "
     "bytes as 'bytes'). Changed attributes raise meta_version by one; consumers see them in Consumer.meta()."},
    {"set_meta_blob", (PyCFunction)(void (*)(void))producer_set_meta_blob, METH_VARARGS | METH_KEYWORDS,
     "set_meta_blob(blob_type, data)\n\nReplace the meta blob (large metadata: a calibration file, a model "
     "config), sent chunked and checksummed; blob_type is the application's. Raises meta_version by one. "
     "Consumers get it in Consumer.meta()['blob'] (up to their size limit, 1 MiB by default)."},
    {"close", (PyCFunction)producer_close, METH_NOARGS, "close()\n\nDetach (the driver starts a new epoch for the next producer)."},
    PYTP_CONTEXT_METHODS,
    {NULL, NULL, 0, NULL}};

PyTypeObject pytp_ProducerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tensorpool.Producer",
    .tp_basicsize = sizeof(ProducerObject),
    .tp_dealloc = (destructor)producer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Producer(stream_id, name=None, summary=None, create=False, *, tracing=None, trace_node=None)\n\n"
              "Attach to a stream as its producer through the driver (TP_DIR and the other client settings come "
              "from the environment). tracing='per-frame' gives every frame a trace id, 'off' none; None keeps "
              "$TP_TRACE's choice (see set_tracing). Not thread-safe: use one producer from one thread.",
    .tp_methods = producer_methods,
    .tp_getset = producer_getset,
    .tp_init = (initproc)producer_init,
    .tp_new = PyType_GenericNew,
};
