/* Shared declarations of the tensorpool Python extension (_tensorpool).
 *
 * The extension wraps the C library's public API only: producers, consumers,
 * join agents (with a co-located MergeMap authority) and an embedded driver.
 * Frames handed to Python are views into the shared memory the C objects
 * map; a Frame remembers its owner's mapping generation so that nothing
 * touches a mapping its owner has since released (see frame.c).
 */
#ifndef PYTP_H
#define PYTP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL pytp_ARRAY_API
#ifndef PYTP_MODULE_MAIN
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include <tensorpool/tensorpool.h>

#include <stdint.h>

/* Exceptions (module.c). */
extern PyObject *pytp_Error;           /* tensorpool.Error: .code, .code_name, .message */
extern PyObject *pytp_FrameOverwritten; /* tensorpool.FrameOverwritten(Error) */

/* Raise tensorpool.Error from the library's thread-local code and message,
 * prefixed with what; returns NULL. */
PyObject *pytp_raise_lib(const char *what);
/* Raise tensorpool.Error (or a subclass) with a given code and message; NULL. */
PyObject *pytp_raise(PyObject *type, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* 0 when the C object exists, else -1 with tensorpool.Error "<what> is closed". */
int pytp_open(const void *c_object, const char *what);

/* Sleep without the GIL for ns nanoseconds; -1 (exception set) if a signal
 * handler raised (Ctrl-C). */
int pytp_idle(int64_t ns);
/* The next idle sleep of a wait loop: 50 us doubling to 1 ms. */
int64_t pytp_backoff(int64_t prev);
/* timeout argument (None = forever, seconds) -> deadline ns, INT64_MAX forever. */
int pytp_deadline(PyObject *timeout, int64_t *deadline);

/* dtypes: tensorpool <-> numpy type numbers; -1 when there is none. */
int pytp_dtype_to_npy(int dtype);
int pytp_npy_to_dtype(int npy_type);

/* Frames (frame.c). gen_fn returns the owner's current mapping generation;
 * a frame is readable only while it equals the frame's. The owner counts its
 * live frames (+1 here, gone_fn at the frame's end): closing an owner while
 * frames (and the numpy arrays or DLPack tensors over them) live only marks
 * it closed, and the mapping is released with the last of them, so memory a
 * view still points at stays mapped. */
typedef uint64_t (*pytp_gen_fn)(PyObject *owner);
typedef void (*pytp_gone_fn)(PyObject *owner);
extern PyTypeObject pytp_FrameType;
PyObject *pytp_frame_new(PyObject *owner, pytp_gen_fn gen_fn, pytp_gone_fn gone_fn, Py_ssize_t *live,
                         uint32_t stream_id, uint64_t epoch, const tp_join_frame_t *jf);

/* The metadata that applies to a frame (tp_frame_t.meta_version/meta_current);
 * a new frame takes meta_version from its slot header and meta_current -1
 * (unknown: None) until its owner says. */
void pytp_frame_set_meta(PyObject *frame, uint32_t meta_version, int meta_current);

/* Metadata and rate statistics as dicts (meta.c): pytp_meta_dict returns
 * None when the store holds nothing yet. */
PyObject *pytp_meta_dict(const tp_meta_store_t *s);
PyObject *pytp_rate_stats_dict(const tp_consumer_rate_stats_t *st);

/* Busy flag of objects whose C side is single-threaded: a second thread
 * entering while the first waits without the GIL gets RuntimeError. */
int pytp_enter(int *busy, const char *what);
static inline void pytp_leave(int *busy) { *busy = 0; }

extern PyTypeObject pytp_ProducerType;
extern PyTypeObject pytp_SlotRefType; /* base of claimed arrays (producer.c), not exported */
extern PyTypeObject pytp_ConsumerType;
extern PyTypeObject pytp_JoinStageType;
extern PyTypeObject pytp_DriverType;

/* Context managers of the long-lived objects: __enter__ returns self,
 * __exit__ calls the object's close() (Driver: stop()) and returns False. */
PyObject *pytp_enter_self(PyObject *self, PyObject *noargs);
PyObject *pytp_exit_close(PyObject *self, PyObject *args);
#define PYTP_CONTEXT_METHODS                                                                                           \
    {"__enter__", pytp_enter_self, METH_NOARGS, NULL}, {"__exit__", pytp_exit_close, METH_VARARGS, NULL}

/* A read-only property: static PyObject *PREFIX_get_NAME(TYPE *self, void *) returning EXPR. */
#define PYTP_GETTER(prefix, type, name, expr)                                                                          \
    static PyObject *prefix##_get_##name(type *self, void *closure)                                                    \
    {                                                                                                                  \
        (void)closure;                                                                                                 \
        return expr;                                                                                                   \
    }

/* dict helpers */
int pytp_dict_u64(PyObject *d, const char *key, uint64_t v);

#endif
