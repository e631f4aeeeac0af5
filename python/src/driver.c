/* tensorpool.Driver: an SHM driver on a thread of this process (the C
 * tp_driver_embedded_*), for programs and tests that bring their own. */
#include "pytp.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    tp_driver_embedded_t *d;
} DriverObject;

static int driver_init(DriverObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"config", NULL};
    const char *text = NULL;
    Py_ssize_t len = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|z#", kw, &text, &len)) return -1;
    if (self->d != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Driver already started");
        return -1;
    }
    tp_driver_config_t *cfg = malloc(sizeof *cfg); /* large: not on the stack */
    if (cfg == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    tp_driver_config_defaults(cfg);
    int rc = -1;
    if (text != NULL && tp_driver_config_parse(cfg, text, (size_t)len) != 0) pytp_raise_lib("Driver config");
    else if (tp_driver_config_apply_env(cfg, NULL) != 0) pytp_raise_lib("Driver environment");
    else if (tp_driver_embedded_start(&self->d, cfg) != 0) {
        self->d = NULL;
        pytp_raise_lib("Driver");
    } else
        rc = 0;
    free(cfg);
    return rc;
}

static PyObject *driver_stop(DriverObject *self, PyObject *noargs)
{
    (void)noargs;
    tp_driver_embedded_t *d = self->d;
    self->d = NULL;
    Py_BEGIN_ALLOW_THREADS /* joins the driver's thread */
    tp_driver_embedded_stop(d);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static void driver_dealloc(DriverObject *self)
{
    tp_driver_embedded_stop(self->d);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *driver_stream_epoch(DriverObject *self, PyObject *arg)
{
    const unsigned long sid = PyLong_AsUnsignedLong(arg);
    if (PyErr_Occurred()) return NULL;
    if (self->d == NULL) return pytp_raise(pytp_Error, TP_ERR_STATE, "driver is stopped");
    uint64_t epoch = 0;
    if (tp_driver_stream_epoch(tp_driver_embedded_driver(self->d), (uint32_t)sid, &epoch) != 0) Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(epoch);
}

static PyMethodDef driver_methods[] = {
    {"stop", (PyCFunction)driver_stop, METH_NOARGS, "stop()\n\nStop the driver (ShmDriverShutdown to its clients)."},
    {"stream_epoch", (PyCFunction)driver_stream_epoch, METH_O,
     "stream_epoch(stream_id) -> int | None\n\nCurrent epoch of a stream, None if it has none."},
    PYTP_CONTEXT_METHODS,
    {NULL, NULL, 0, NULL}};

PyTypeObject pytp_DriverType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tensorpool.Driver",
    .tp_basicsize = sizeof(DriverObject),
    .tp_dealloc = (destructor)driver_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Driver(config=None)\n\nRun an SHM driver on a thread of this process. config is the text of a "
              "driver TOML file (profiles, streams; see docs/configuration.md); the environment (TP_DIR, ...) "
              "applies on top, as for `tp driver`.",
    .tp_methods = driver_methods,
    .tp_init = (initproc)driver_init,
    .tp_new = PyType_GenericNew,
};
