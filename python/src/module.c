/* tensorpool._tensorpool: module init, exceptions, dtypes and the GIL-free
 * idle of every blocking wait. */
#define PYTP_MODULE_MAIN
#include "pytp.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

PyObject *pytp_Error;
PyObject *pytp_FrameOverwritten;

static PyObject *raise_with(PyObject *type, int code, const char *msg)
{
    PyObject *args = Py_BuildValue("(s)", msg);
    if (args == NULL) return NULL;
    PyObject *exc = PyObject_Call(type, args, NULL);
    Py_DECREF(args);
    if (exc == NULL) return NULL;
    PyObject *c = PyLong_FromLong(code);
    PyObject *n = PyUnicode_FromString(tp_errcode_name((tp_errcode_t)code));
    PyObject *m = PyUnicode_FromString(msg);
    if (c == NULL || n == NULL || m == NULL || PyObject_SetAttrString(exc, "code", c) != 0 ||
        PyObject_SetAttrString(exc, "code_name", n) != 0 || PyObject_SetAttrString(exc, "message", m) != 0) {
        Py_XDECREF(c), Py_XDECREF(n), Py_XDECREF(m), Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(c), Py_DECREF(n), Py_DECREF(m);
    PyErr_SetObject(type, exc);
    Py_DECREF(exc);
    return NULL;
}

PyObject *pytp_raise_lib(const char *what)
{
    char buf[640];
    snprintf(buf, sizeof buf, "%s: %s", what, tp_errmsg());
    return raise_with(pytp_Error, (int)tp_errcode(), buf);
}

PyObject *pytp_raise(PyObject *type, int code, const char *fmt, ...)
{
    char buf[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return raise_with(type, code, buf);
}

int pytp_open(const void *c_object, const char *what)
{
    if (c_object != NULL) return 0;
    pytp_raise(pytp_Error, TP_ERR_STATE, "%s is closed", what);
    return -1;
}

int pytp_idle(int64_t ns)
{
    const struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    Py_BEGIN_ALLOW_THREADS /* every wait lets other Python threads run */
    nanosleep(&ts, NULL);
    Py_END_ALLOW_THREADS
    return PyErr_CheckSignals();
}

int64_t pytp_backoff(int64_t prev)
{
    if (prev <= 0) return 50000;
    return prev >= 500000 ? 1000000 : prev * 2;
}

int pytp_deadline(PyObject *timeout, int64_t *deadline)
{
    if (timeout == NULL || timeout == Py_None) {
        *deadline = INT64_MAX;
        return 0;
    }
    const double s = PyFloat_AsDouble(timeout);
    if (s == -1.0 && PyErr_Occurred()) return -1;
    *deadline = tp_clock_monotonic_ns() + (s <= 0 ? 0 : (int64_t)(s * 1e9));
    return 0;
}

int pytp_enter(int *busy, const char *what)
{
    if (*busy) {
        PyErr_Format(PyExc_RuntimeError, "%s is in use by another thread (not thread-safe)", what);
        return -1;
    }
    *busy = 1;
    return 0;
}

PyObject *pytp_enter_self(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    Py_INCREF(self);
    return self;
}

PyObject *pytp_exit_close(PyObject *self, PyObject *args)
{
    (void)args;
    PyObject *r = PyObject_CallMethod(self, PyObject_HasAttrString(self, "close") ? "close" : "stop", NULL);
    if (r == NULL) return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

int pytp_dict_u64(PyObject *d, const char *key, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    if (o == NULL) return -1;
    const int rc = PyDict_SetItemString(d, key, o);
    Py_DECREF(o);
    return rc;
}

/* BIT and BYTES are bytes to numpy; BOOLEAN is one byte per value (D-17). */
static const struct {
    int tp, npy;
} dtypes[] = {
    {TP_CONTROL_DTYPE_UINT8, NPY_UINT8},     {TP_CONTROL_DTYPE_INT8, NPY_INT8},
    {TP_CONTROL_DTYPE_UINT16, NPY_UINT16},   {TP_CONTROL_DTYPE_INT16, NPY_INT16},
    {TP_CONTROL_DTYPE_UINT32, NPY_UINT32},   {TP_CONTROL_DTYPE_INT32, NPY_INT32},
    {TP_CONTROL_DTYPE_UINT64, NPY_UINT64},   {TP_CONTROL_DTYPE_INT64, NPY_INT64},
    {TP_CONTROL_DTYPE_FLOAT32, NPY_FLOAT32}, {TP_CONTROL_DTYPE_FLOAT64, NPY_FLOAT64},
    {TP_CONTROL_DTYPE_BOOLEAN, NPY_BOOL},    {TP_CONTROL_DTYPE_BYTES, NPY_UINT8},
    {TP_CONTROL_DTYPE_BIT, NPY_UINT8},
};

int pytp_dtype_to_npy(int dtype)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].tp == dtype) return dtypes[i].npy;
    return -1;
}

int pytp_npy_to_dtype(int npy_type)
{
    /* NPY_LONGLONG etc. alias the sized types on this platform; compare sizes */
    PyArray_Descr *d = PyArray_DescrFromType(npy_type);
    if (d == NULL) {
        PyErr_Clear();
        return -1;
    }
    const char kind = d->kind;
    const int size = (int)d->elsize;
    Py_DECREF(d);
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        if (dtypes[i].tp == TP_CONTROL_DTYPE_BYTES || dtypes[i].tp == TP_CONTROL_DTYPE_BIT) continue;
        PyArray_Descr *e = PyArray_DescrFromType(dtypes[i].npy);
        const int same = e != NULL && e->kind == kind && (int)e->elsize == size;
        Py_XDECREF(e);
        if (same) return dtypes[i].tp;
    }
    return -1;
}

static PyObject *py_monotonic_ns(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    return PyLong_FromLongLong(tp_clock_monotonic_ns());
}

static PyObject *py_dtype_name(PyObject *self, PyObject *arg)
{
    (void)self;
    const long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred()) return NULL;
    const char *n = tp_control_dtype_name((tp_control_dtype_t)v);
    return PyUnicode_FromString(n != NULL ? n : "UNKNOWN");
}

static PyObject *py_retained_mappings(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyLong_FromSize_t(tp_shm_retained_count());
}

static PyMethodDef module_methods[] = {
    {"monotonic_ns", py_monotonic_ns, METH_NOARGS,
     "monotonic_ns() -> int\n\nThe library's monotonic clock (CLOCK_MONOTONIC, ns): the clock of frame timestamps."},
    {"dtype_name", py_dtype_name, METH_O, "dtype_name(code) -> str\n\nWire name of a tensorpool dtype code."},
    {"retained_mappings", py_retained_mappings, METH_NOARGS,
     "retained_mappings() -> int\n\nPool mappings this process dropped (epoch change, lease lost) but keeps addressable "
     "because frames or arrays made from them are still alive. Such an array reads zeros instead of crashing; the "
     "ranges are unmapped when the last frame object is gone. 0 in steady state."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_tensorpool",
    "C extension of the tensorpool package (use `import tensorpool`).", -1, module_methods, NULL, NULL, NULL, NULL};

static int add_type(PyObject *m, PyTypeObject *t, const char *name)
{
    if (PyType_Ready(t) < 0) return -1;
    Py_INCREF(t);
    if (PyModule_AddObject(m, name, (PyObject *)t) < 0) {
        Py_DECREF(t);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__tensorpool(void);
PyMODINIT_FUNC PyInit__tensorpool(void)
{
    import_array();
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL) return NULL;
    pytp_Error = PyErr_NewExceptionWithDoc("tensorpool.Error",
                                           "A tensorpool library call failed. Attributes: code (int, the library's "
                                           "tp_errcode_t), code_name (e.g. 'state'), message (the library's text).",
                                           NULL, NULL);
    if (pytp_Error == NULL) goto fail;
    pytp_FrameOverwritten = PyErr_NewExceptionWithDoc(
        "tensorpool.FrameOverwritten",
        "The producer overwrote a frame's slot (or its mapping was released) while it was in use: the bytes "
        "read from it since it was opened are not trustworthy.",
        pytp_Error, NULL);
    if (pytp_FrameOverwritten == NULL) goto fail;
    Py_INCREF(pytp_Error);
    Py_INCREF(pytp_FrameOverwritten);
    if (PyModule_AddObject(m, "Error", pytp_Error) < 0 ||
        PyModule_AddObject(m, "FrameOverwritten", pytp_FrameOverwritten) < 0)
        goto fail;
    if (PyType_Ready(&pytp_SlotRefType) < 0) goto fail;
    if (add_type(m, &pytp_FrameType, "Frame") < 0 || add_type(m, &pytp_ProducerType, "Producer") < 0 ||
        add_type(m, &pytp_ConsumerType, "Consumer") < 0 || add_type(m, &pytp_JoinStageType, "JoinStage") < 0 ||
        add_type(m, &pytp_DriverType, "Driver") < 0)
        goto fail;
    if (PyModule_AddStringConstant(m, "library_version", tp_version()) < 0) goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
