/* tensorpool.Frame: one frame read in place from shared memory.
 *
 * The frame keeps a copy of the library's single-attempt read (the slot
 * header, the resolved strides, the payload pointer and the seqlock value at
 * the start of the read). Everything read through .array is trustworthy only
 * if the seqlock still holds that value afterwards: __exit__ and copy() check
 * it and raise FrameOverwritten otherwise, never returning torn bytes
 * silently. The owner (Consumer or JoinStage) reports a mapping generation;
 * once it changes (epoch change, lease lost, close) the payload may be
 * unmapped, so the frame refuses to touch it and reports it overwritten.
 * An array taken from it may be kept past that: each frame holds the
 * library's mapping retention (shm_retain.h), so such an array reads zeros
 * after an epoch change instead of crashing the interpreter.
 */
#include "pytp.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    PyObject *owner;
    pytp_gen_fn gen_fn;
    pytp_gone_fn gone_fn;
    uint64_t gen;
    uint32_t stream_id;
    uint64_t epoch;
    tp_join_frame_t jf;
    int closed;
    PyObject *array; /* cached read-only view */
    uint32_t meta_version;
    int meta_current; /* 1/0, -1 unknown */
} FrameObject;

PyObject *pytp_frame_new(PyObject *owner, pytp_gen_fn gen_fn, pytp_gone_fn gone_fn, Py_ssize_t *live,
                         uint32_t stream_id, uint64_t epoch, const tp_join_frame_t *jf)
{
    FrameObject *f = PyObject_New(FrameObject, &pytp_FrameType);
    if (f == NULL) return NULL;
    Py_INCREF(owner);
    (*live)++;
    f->owner = owner;
    f->gen_fn = gen_fn;
    f->gone_fn = gone_fn;
    f->gen = gen_fn(owner);
    f->stream_id = stream_id;
    f->epoch = epoch;
    f->jf = *jf;
    f->jf.reader_ = NULL;
    f->closed = 0;
    f->array = NULL;
    f->meta_version = jf->has_view ? jf->view.header.meta_version : 0;
    f->meta_current = -1;
    tp_shm_retain_hold(); /* an array of it may outlive the mapping (shm_retain.h) */
    return (PyObject *)f;
}

void pytp_frame_set_meta(PyObject *frame, uint32_t meta_version, int meta_current)
{
    FrameObject *f = (FrameObject *)frame;
    f->meta_version = meta_version;
    f->meta_current = meta_current != 0;
}

static void frame_dealloc(FrameObject *f)
{
    Py_XDECREF(f->array);
    tp_shm_retain_release();
    f->gone_fn(f->owner); /* the last frame of a closed owner releases its mapping */
    Py_XDECREF(f->owner);
    PyObject_Free(f);
}

/* 1 when the mapping is the one the frame was read from. */
static int mapped(const FrameObject *f) { return f->gen == f->gen_fn(f->owner); }

static int intact(const FrameObject *f) { return f->jf.has_view && mapped(f) && tp_join_frame_still_valid(&f->jf); }

static int usable(FrameObject *f, const char *what)
{
    if (!f->jf.has_view) {
        pytp_raise(pytp_Error, TP_ERR_STATE, "%s: frame seq %llu of stream %u has no view (its pool is not mapped, or its read failed)",
                   what, (unsigned long long)f->jf.seq, (unsigned)f->stream_id);
        return 0;
    }
    if (f->closed) {
        pytp_raise(pytp_Error, TP_ERR_STATE, "%s: frame seq %llu is closed (views are valid only inside its with block)",
                   what, (unsigned long long)f->jf.seq);
        return 0;
    }
    if (!mapped(f)) {
        pytp_raise(pytp_FrameOverwritten, TP_ERR_STATE, "%s: frame seq %llu of stream %u: its mapping was released", what,
                   (unsigned long long)f->jf.seq, (unsigned)f->stream_id);
        return 0;
    }
    return 1;
}

static PyObject *overwritten(FrameObject *f, const char *what)
{
    return pytp_raise(pytp_FrameOverwritten, TP_ERR_STATE,
                      "%s: frame seq %llu of stream %u was overwritten while in use", what,
                      (unsigned long long)f->jf.seq, (unsigned)f->stream_id);
}

/* A numpy array over the payload; writable 0: read-only. */
static PyObject *make_view(FrameObject *f)
{
    const tp_tensor_header_t *t = &f->jf.view.header.tensor;
    const int npy = pytp_dtype_to_npy(t->dtype);
    if (npy < 0) return pytp_raise(pytp_Error, TP_ERR_UNSUPPORTED, "dtype %d has no numpy equivalent", t->dtype);
    npy_intp dims[TP_TENSOR_MAX_DIMS], strides[TP_TENSOR_MAX_DIMS];
    for (int k = 0; k < t->ndims && k < TP_TENSOR_MAX_DIMS; k++) {
        dims[k] = t->dims[k];
        strides[k] = f->jf.view.strides[k];
    }
    PyArray_Descr *d = PyArray_DescrFromType(npy);
    if (d == NULL) return NULL;
    static const uint8_t empty[1];
    void *data = (void *)(uintptr_t)(f->jf.view.payload != NULL ? f->jf.view.payload : empty);
    PyObject *a = PyArray_NewFromDescr(&PyArray_Type, d, t->ndims, dims, strides, data, 0, NULL);
    if (a == NULL) return NULL;
    Py_INCREF(f);
    if (PyArray_SetBaseObject((PyArrayObject *)a, (PyObject *)f) < 0) {
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

static PyObject *frame_get_array(FrameObject *f, void *closure)
{
    (void)closure;
    if (!usable(f, "array")) return NULL;
    if (f->array == NULL && (f->array = make_view(f)) == NULL) return NULL;
    Py_INCREF(f->array);
    return f->array;
}

static PyObject *frame_copy(FrameObject *f, PyObject *noargs)
{
    (void)noargs;
    if (!usable(f, "copy")) return NULL;
    PyObject *v = make_view(f);
    if (v == NULL) return NULL;
    PyObject *c = PyArray_NewCopy((PyArrayObject *)v, NPY_CORDER);
    Py_DECREF(v);
    if (c == NULL) return NULL;
    if (!intact(f)) {
        Py_DECREF(c);
        return overwritten(f, "copy");
    }
    return c;
}

static PyObject *frame_intact(FrameObject *f, PyObject *noargs)
{
    (void)noargs;
    return PyBool_FromLong(intact(f));
}

static PyObject *frame_enter(FrameObject *f, PyObject *noargs)
{
    (void)noargs;
    if (!usable(f, "with")) return NULL;
    Py_INCREF(f);
    return (PyObject *)f;
}

/* Close: the seqlock decides whether what was read inside the block holds.
 * An error raised inside the block by torn data (a failed check, a bad
 * value) is replaced by FrameOverwritten, which keeps it as __context__;
 * KeyboardInterrupt and other BaseExceptions pass untouched. */
static PyObject *frame_exit(FrameObject *f, PyObject *args)
{
    PyObject *et = Py_None;
    if (PyTuple_GET_SIZE(args) > 0) et = PyTuple_GET_ITEM(args, 0);
    const int ok = intact(f);
    f->closed = 1;
    Py_CLEAR(f->array);
    if (!ok && (et == Py_None || (PyType_Check(et) && PyType_IsSubtype((PyTypeObject *)et, (PyTypeObject *)PyExc_Exception))))
        return overwritten(f, "with");
    Py_RETURN_FALSE;
}

static PyObject *frame_close(FrameObject *f, PyObject *noargs)
{
    (void)noargs;
    f->closed = 1;
    Py_CLEAR(f->array);
    Py_RETURN_NONE;
}

/* ---- DLPack (unversioned DLManagedTensor, the "dltensor" capsule) ---- */

typedef struct {
    int32_t device_type; /* kDLCPU = 1 */
    int32_t device_id;
} DLDevice;
typedef struct {
    uint8_t code; /* kDLInt 0, kDLUInt 1, kDLFloat 2, kDLBool 6 */
    uint8_t bits;
    uint16_t lanes;
} DLDataType;
typedef struct {
    void *data;
    DLDevice device;
    int32_t ndim;
    DLDataType dtype;
    int64_t *shape;
    int64_t *strides; /* in elements */
    uint64_t byte_offset;
} DLTensor;
typedef struct DLManagedTensor {
    DLTensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;

typedef struct {
    DLManagedTensor t;
    int64_t shape[TP_TENSOR_MAX_DIMS];
    int64_t strides[TP_TENSOR_MAX_DIMS];
} dl_holder_t;

static void dl_deleter(DLManagedTensor *t)
{
    PyGILState_STATE g = PyGILState_Ensure(); /* the consumer may free from any thread */
    Py_XDECREF((PyObject *)t->manager_ctx);
    free(t);
    PyGILState_Release(g);
}

static void dl_capsule_destructor(PyObject *cap)
{
    if (!PyCapsule_IsValid(cap, "dltensor")) return; /* consumed: "used_dltensor", its deleter is theirs */
    DLManagedTensor *t = PyCapsule_GetPointer(cap, "dltensor");
    if (t != NULL && t->deleter != NULL) t->deleter(t);
}

static int dl_dtype(int dtype, DLDataType *out)
{
    const size_t size = tp_dtype_size(dtype);
    out->bits = (uint8_t)(size * 8);
    out->lanes = 1;
    switch (dtype) {
    case TP_CONTROL_DTYPE_INT8: case TP_CONTROL_DTYPE_INT16: case TP_CONTROL_DTYPE_INT32: case TP_CONTROL_DTYPE_INT64:
        out->code = 0;
        return 0;
    case TP_CONTROL_DTYPE_UINT8: case TP_CONTROL_DTYPE_UINT16: case TP_CONTROL_DTYPE_UINT32: case TP_CONTROL_DTYPE_UINT64:
    case TP_CONTROL_DTYPE_BYTES: case TP_CONTROL_DTYPE_BIT:
        out->code = 1;
        return 0;
    case TP_CONTROL_DTYPE_FLOAT32: case TP_CONTROL_DTYPE_FLOAT64:
        out->code = 2;
        return 0;
    case TP_CONTROL_DTYPE_BOOLEAN:
        out->code = 6;
        return 0;
    default:
        return -1;
    }
}

static PyObject *frame_dlpack(FrameObject *f, PyObject *args, PyObject *kwargs)
{
    /* CPU memory: no stream to synchronise; an unversioned capsule whatever
     * max_version asks (consumers accept it); no copies, no other device */
    static char *kw[] = {"stream", "max_version", "dl_device", "copy", NULL};
    PyObject *stream = Py_None, *max_version = Py_None, *device = Py_None, *copy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O$OOO", kw, &stream, &max_version, &device, &copy)) return NULL;
    if (copy == Py_True) {
        PyErr_SetString(PyExc_BufferError, "__dlpack__(copy=True): a frame exports its memory only; use frame.copy()");
        return NULL;
    }
    if (device != Py_None) {
        int type = 0, id = 0;
        if (!PyArg_ParseTuple(device, "ii", &type, &id)) return NULL;
        if (type != 1 || id != 0) {
            PyErr_Format(PyExc_BufferError, "__dlpack__: frames live in CPU memory (1, 0), not (%d, %d)", type, id);
            return NULL;
        }
    }
    if (!usable(f, "__dlpack__")) return NULL;
    const tp_tensor_header_t *t = &f->jf.view.header.tensor;
    DLDataType dt;
    if (dl_dtype(t->dtype, &dt) != 0)
        return pytp_raise(pytp_Error, TP_ERR_UNSUPPORTED, "dtype %d has no DLPack equivalent", t->dtype);
    const int32_t esize = (int32_t)tp_dtype_size(t->dtype);
    dl_holder_t *h = calloc(1, sizeof *h);
    if (h == NULL) return PyErr_NoMemory();
    for (int k = 0; k < t->ndims; k++) {
        if (f->jf.view.strides[k] % esize != 0) {
            free(h);
            PyErr_Format(PyExc_BufferError, "stride %d of %d bytes is not a multiple of the element size %d", k,
                         (int)f->jf.view.strides[k], (int)esize);
            return NULL;
        }
        h->shape[k] = t->dims[k];
        h->strides[k] = f->jf.view.strides[k] / esize;
    }
    static uint8_t empty[1];
    h->t.dl_tensor.data = f->jf.view.payload != NULL ? (void *)(uintptr_t)f->jf.view.payload : empty;
    h->t.dl_tensor.device = (DLDevice){1, 0};
    h->t.dl_tensor.ndim = t->ndims;
    h->t.dl_tensor.dtype = dt;
    h->t.dl_tensor.shape = h->shape;
    h->t.dl_tensor.strides = h->strides;
    h->t.dl_tensor.byte_offset = 0;
    Py_INCREF(f); /* the frame (and its owner, hence the mapping's object) live while the tensor does */
    h->t.manager_ctx = f;
    h->t.deleter = dl_deleter;
    PyObject *cap = PyCapsule_New(&h->t, "dltensor", dl_capsule_destructor);
    if (cap == NULL) {
        Py_DECREF(f);
        free(h);
    }
    return cap;
}

static PyObject *frame_dlpack_device(FrameObject *f, PyObject *noargs)
{
    (void)f, (void)noargs;
    return Py_BuildValue("(ii)", 1, 0); /* kDLCPU, device 0 */
}

static PyObject *frame_repr(FrameObject *f)
{
    const tp_tensor_header_t *t = &f->jf.view.header.tensor;
    char shape[128] = "";
    size_t n = 0;
    for (int k = 0; k < t->ndims && n < sizeof shape - 16; k++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, k ? "x%d" : "%d", (int)t->dims[k]);
    const char *dn = tp_control_dtype_name((tp_control_dtype_t)t->dtype);
    return PyUnicode_FromFormat("<tensorpool.Frame stream %u epoch %llu seq %llu %s %s%s>", (unsigned)f->stream_id,
                                (unsigned long long)f->epoch, (unsigned long long)f->jf.seq, f->jf.has_view ? shape : "-",
                                f->jf.has_view && dn != NULL ? dn : "no view", f->closed ? " closed" : "");
}

#define GETTER(name, expr) PYTP_GETTER(frame, FrameObject, name, expr)
GETTER(seq, PyLong_FromUnsignedLongLong(self->jf.seq))
GETTER(epoch, PyLong_FromUnsignedLongLong(self->epoch))
GETTER(stream_id, PyLong_FromUnsignedLong(self->stream_id))
GETTER(has_view, PyBool_FromLong(self->jf.has_view))
GETTER(trace_id, PyLong_FromUnsignedLongLong(self->jf.trace_id))
GETTER(closed, PyBool_FromLong(self->closed))
GETTER(nbytes, PyLong_FromUnsignedLong(self->jf.has_view ? self->jf.view.len : 0))
GETTER(meta_version, PyLong_FromUnsignedLong(self->meta_version))
static PyObject *frame_get_meta_current(FrameObject *f, void *closure)
{
    (void)closure;
    if (f->meta_current < 0) Py_RETURN_NONE;
    return PyBool_FromLong(f->meta_current);
}
GETTER(dtype_code, PyLong_FromLong(self->jf.has_view ? self->jf.view.header.tensor.dtype : 0))

static PyObject *frame_get_timestamp_ns(FrameObject *f, void *closure)
{
    (void)closure;
    /* the slot header's capture time when read, else the descriptor's */
    uint64_t ts = f->jf.has_view ? f->jf.view.header.timestamp_ns : f->jf.timestamp_ns;
    if (ts == UINT64_MAX) ts = f->jf.timestamp_ns;
    if (ts == UINT64_MAX) Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(ts);
}

static PyObject *frame_get_publish_timestamp_ns(FrameObject *f, void *closure)
{
    (void)closure;
    if (f->jf.timestamp_ns == UINT64_MAX) Py_RETURN_NONE; /* the producer sent none */
    return PyLong_FromUnsignedLongLong(f->jf.timestamp_ns);
}

/* The frame's ndims values of v as a tuple (none without a view). */
static PyObject *int_tuple(const FrameObject *f, const int32_t *v)
{
    const int n = f->jf.has_view ? f->jf.view.header.tensor.ndims : 0;
    PyObject *s = PyTuple_New(n);
    for (int k = 0; s != NULL && k < n; k++) PyTuple_SET_ITEM(s, k, PyLong_FromLong(v[k]));
    return s;
}
GETTER(shape, int_tuple(self, self->jf.view.header.tensor.dims))
GETTER(strides, int_tuple(self, self->jf.view.strides))

static PyObject *frame_get_dtype(FrameObject *f, void *closure)
{
    (void)closure;
    const int npy = f->jf.has_view ? pytp_dtype_to_npy(f->jf.view.header.tensor.dtype) : -1;
    if (npy < 0) Py_RETURN_NONE;
    return (PyObject *)PyArray_DescrFromType(npy);
}

static PyGetSetDef frame_getset[] = {
    {"array", (getter)frame_get_array, NULL,
     "Read-only numpy view of the payload in shared memory (no copy). Valid while the frame is open (inside its "
     "with block); bytes read through it count only if the block exits without FrameOverwritten.",
     NULL},
    {"seq", (getter)frame_get_seq, NULL, "Frame sequence number.", NULL},
    {"epoch", (getter)frame_get_epoch, NULL, "Producer epoch the frame belongs to.", NULL},
    {"stream_id", (getter)frame_get_stream_id, NULL, "Stream the frame came from.", NULL},
    {"trace_id", (getter)frame_get_trace_id, NULL,
     "Trace id from the frame's FrameDescriptor (docs/spec/tracelink.md); 0 when the producer does not trace.",
     NULL},
    {"timestamp_ns", (getter)frame_get_timestamp_ns, NULL,
     "Capture time (slot header, else the FrameDescriptor's), monotonic ns; None if absent.", NULL},
    {"publish_timestamp_ns", (getter)frame_get_publish_timestamp_ns, NULL,
     "Publish time from the FrameDescriptor, monotonic ns; None when the producer sends none "
     "(Producer.set_publish_timestamp).",
     NULL},
    {"shape", (getter)frame_get_shape, NULL, "Tensor dims (tuple).", NULL},
    {"strides", (getter)frame_get_strides, NULL, "Resolved byte strides (tuple).", NULL},
    {"dtype", (getter)frame_get_dtype, NULL, "numpy dtype of the elements (None when there is none).", NULL},
    {"dtype_code", (getter)frame_get_dtype_code, NULL, "tensorpool dtype code (tensorpool.dtype_name names it).", NULL},
    {"meta_version", (getter)frame_get_meta_version, NULL,
     "meta_version the producer's metadata had for this frame (FrameDescriptor, W-10.3.2.b); 0: none.", NULL},
    {"meta_current", (getter)frame_get_meta_current, NULL,
     "True if the consumer (or the join stage, for this input) held that version's attributes when the frame was "
     "delivered, so meta() describes it; always True for version 0. None if not known.",
     NULL},
    {"nbytes", (getter)frame_get_nbytes, NULL, "Payload bytes (values_len_bytes).", NULL},
    {"has_view", (getter)frame_get_has_view, NULL,
     "False when the frame carries no payload view (join input whose pool is not mapped, or whose read failed).", NULL},
    {"closed", (getter)frame_get_closed, NULL, "True after the with block (or close()).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef frame_methods[] = {
    {"copy", (PyCFunction)frame_copy, METH_NOARGS,
     "copy() -> numpy.ndarray\n\nA C-ordered copy you may keep; raises FrameOverwritten if the slot changed during "
     "the copy."},
    {"intact", (PyCFunction)frame_intact, METH_NOARGS,
     "intact() -> bool\n\nTrue if the slot still holds this frame (seqlock re-check, counts nothing)."},
    {"close", (PyCFunction)frame_close, METH_NOARGS, "close()\n\nEnd the frame's validity without checking."},
    {"__enter__", (PyCFunction)frame_enter, METH_NOARGS, "Open the frame: returns it."},
    {"__exit__", (PyCFunction)frame_exit, METH_VARARGS,
     "Close the frame; raises FrameOverwritten if its slot was overwritten while open (also in place of an "
     "Exception raised inside the block, which becomes its __context__: torn data explains it)."},
    {"__dlpack__", (PyCFunction)(void (*)(void))frame_dlpack, METH_VARARGS | METH_KEYWORDS,
     "__dlpack__(stream=None, *, max_version=None, dl_device=None, copy=None) -> PyCapsule\n\nDLPack capsule over the payload (CPU, no copy), for numpy.from_dlpack "
     "and torch.from_dlpack. The tensor keeps the frame object alive, not the producer's slot: validate with "
     "intact() (or the with block) after reading."},
    {"__dlpack_device__", (PyCFunction)frame_dlpack_device, METH_NOARGS, "__dlpack_device__() -> (1, 0): CPU."},
    {NULL, NULL, 0, NULL}};

PyTypeObject pytp_FrameType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tensorpool.Frame",
    .tp_basicsize = sizeof(FrameObject),
    .tp_dealloc = (destructor)frame_dealloc,
    .tp_repr = (reprfunc)frame_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One frame read in place from shared memory (made by Consumer.poll and JoinStage.poll).\n\n"
              "    with frame:\n        total = frame.array.sum()   # zero-copy, read-only\n\n"
              "On exit the seqlock is re-checked: FrameOverwritten if the producer reused the slot meanwhile.",
    .tp_methods = frame_methods,
    .tp_getset = frame_getset,
};
