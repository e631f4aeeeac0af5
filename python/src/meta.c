/* Stream metadata and rate statistics as Python dicts: what a consumer's
 * tp_meta_store_t holds (tensorpool/meta.h) and tp_consumer_rate_stats_t.
 * Kept apart from consumer.c so a join stage's per-input stores can use the
 * same mapping. */
#include "pytp.h"

#include <string.h>

/* A value as the producer's format says: "bytes" stays bytes; any other
 * format (text, json, ...) is text when it is valid UTF-8, else bytes, so
 * nothing the producer sent is lost or refused. */
static PyObject *attr_value(const tp_meta_attr_view_t *a)
{
    if (strcmp(a->format, "bytes") != 0) {
        PyObject *s = PyUnicode_DecodeUTF8((const char *)a->value, (Py_ssize_t)a->value_len, "strict");
        if (s != NULL) return s;
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) return NULL;
        PyErr_Clear();
    }
    return PyBytes_FromStringAndSize((const char *)a->value, (Py_ssize_t)a->value_len);
}

/* Set d[key] = v, consuming v (NULL: failure already raised). 0 or -1. */
static int put(PyObject *d, const char *key, PyObject *v)
{
    if (v == NULL) return -1;
    const int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

static PyObject *none(void) { Py_RETURN_NONE; }

/* attributes {key: value} and formats {key: format}; the first of repeated keys wins, as tp_meta_find. */
static int put_attrs(PyObject *r, const tp_meta_store_t *s)
{
    PyObject *attrs = PyDict_New(), *formats = PyDict_New();
    if (put(r, "attributes", attrs) != 0) { /* from here r holds them: borrowed below */
        Py_XDECREF(formats);
        return -1;
    }
    if (put(r, "formats", formats) != 0) return -1;
    const uint32_t n = tp_meta_attr_count(s);
    for (uint32_t i = 0; i < n; i++) {
        tp_meta_attr_view_t a;
        if (tp_meta_attr(s, i, &a) != 0) continue;
        PyObject *k = PyUnicode_DecodeUTF8(a.key, (Py_ssize_t)strlen(a.key), "replace");
        if (k == NULL) return -1;
        int rc = PyDict_Contains(attrs, k); /* 1: a repeated key, skipped */
        if (rc == 0) {
            PyObject *v = attr_value(&a);
            PyObject *f = v != NULL ? PyUnicode_DecodeUTF8(a.format, (Py_ssize_t)strlen(a.format), "replace") : NULL;
            rc = f == NULL || PyDict_SetItem(attrs, k, v) != 0 || PyDict_SetItem(formats, k, f) != 0 ? -1 : 0;
            Py_XDECREF(v);
            Py_XDECREF(f);
        }
        Py_DECREF(k);
        if (rc < 0) return -1;
    }
    return 0;
}

static int put_blob(PyObject *r, const tp_meta_store_t *s)
{
    tp_meta_blob_view_t b;
    if (!tp_meta_blob(s, &b)) return put(r, "blob", none());
    PyObject *d = Py_BuildValue("{s:y#,s:I,s:I,s:K}", "data", (const char *)b.data, (Py_ssize_t)b.len, "type",
                                (unsigned)b.blob_type, "meta_version", (unsigned)b.meta_version, "checksum",
                                (unsigned long long)b.checksum);
    return put(r, "blob", d);
}

PyObject *pytp_meta_dict(const tp_meta_store_t *s)
{
    tp_meta_source_t src;
    const int has_source = tp_meta_source(s, &src);
    tp_meta_blob_view_t b;
    if (!has_source && tp_meta_version(s) == 0 && !tp_meta_blob(s, &b)) Py_RETURN_NONE;
    PyObject *r = PyDict_New();
    if (r == NULL) return NULL;
    int rc = put(r, "stream_id", PyLong_FromUnsignedLong(tp_meta_stream_id(s))) ||
             put(r, "meta_version", PyLong_FromUnsignedLong(tp_meta_version(s)));
    if (rc == 0 && has_source)
        rc = put(r, "name", PyUnicode_DecodeUTF8(src.name, (Py_ssize_t)strlen(src.name), "replace")) ||
             put(r, "summary", PyUnicode_DecodeUTF8(src.summary, (Py_ssize_t)strlen(src.summary), "replace")) ||
             put(r, "producer_id", PyLong_FromUnsignedLong(src.producer_id)) ||
             put(r, "epoch", PyLong_FromUnsignedLongLong(src.epoch)) ||
             put(r, "announced_meta_version", PyLong_FromUnsignedLong(src.meta_version));
    else if (rc == 0) { /* no DataSourceAnnounce yet: the keys exist, empty */
        rc = put(r, "name", none()) || put(r, "summary", none()) || put(r, "producer_id", none()) ||
             put(r, "epoch", PyLong_FromLong(0)) || put(r, "announced_meta_version", PyLong_FromLong(0));
    }
    if (rc == 0) rc = put_attrs(r, s) || put_blob(r, s);
    if (rc != 0) {
        Py_DECREF(r);
        return NULL;
    }
    return r;
}

PyObject *pytp_rate_stats_dict(const tp_consumer_rate_stats_t *st)
{
    PyObject *r = PyDict_New();
    if (r == NULL) return NULL;
    if (pytp_dict_u64(r, "max_rate_hz", st->max_rate_hz) || put(r, "granted", PyBool_FromLong(st->granted)) ||
        pytp_dict_u64(r, "delivered", st->delivered) || pytp_dict_u64(r, "skipped_local", st->skipped_local) ||
        pytp_dict_u64(r, "skipped_producer", st->skipped_producer)) {
        Py_DECREF(r);
        return NULL;
    }
    return r;
}
