/* The bridge's TOML configuration (docs/configuration.md "tp bridge"),
 * read with the driver's strict TOML subset reader. */
#include "tensorpool/bridge.h"

#include "../driver/driver_toml.h"
#include "tensorpool/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX (1u << 20)

static int want(const tp_toml_value_t *v, tp_toml_type_t type, const char *key)
{
    static const char *const names[] = {"", "a string", "an integer", "a boolean"};
    if (v->type != type)
        return tp_err_set(TP_ERR_MALFORMED, "%s must be %s", key, names[type]);
    return 0;
}

static int u32(const tp_toml_value_t *v, const char *key, int64_t lo, uint32_t *out)
{
    if (want(v, TP_TOML_INT, key) != 0)
        return -1;
    if (v->i < lo || v->i > (int64_t)UINT32_MAX)
        return tp_err_set(TP_ERR_MALFORMED, "%s = %lld is out of range", key, (long long)v->i);
    *out = (uint32_t)v->i;
    return 0;
}

static int str(const tp_toml_value_t *v, const char *key, char *out, size_t cap)
{
    if (want(v, TP_TOML_STRING, key) != 0)
        return -1;
    if (strlen(v->str) >= cap)
        return tp_err_set(TP_ERR_MALFORMED, "%s is longer than %zu bytes", key, cap - 1);
    memcpy(out, v->str, strlen(v->str) + 1);
    return 0;
}

/* "30000-30099" */
static int range_text(tp_bridge_config_t *c, const char *s)
{
    char *end;
    errno = 0;
    const unsigned long lo = strtoul(s, &end, 10);
    if (end == s || *end != '-' || errno != 0)
        return tp_err_set(TP_ERR_MALFORMED, "bridge.dest_stream_id_range must be \"LO-HI\" or [LO, HI]");
    const char *h = end + 1;
    const unsigned long hi = strtoul(h, &end, 10);
    if (end == h || *end != '\0' || errno != 0 || lo == 0 || lo > UINT32_MAX || hi > UINT32_MAX)
        return tp_err_set(TP_ERR_MALFORMED, "bridge.dest_stream_id_range must be \"LO-HI\" with 1 <= LO <= HI");
    c->dest_range_lo = (uint32_t)lo;
    c->dest_range_hi = (uint32_t)hi;
    return 0;
}

static int mapping_key(tp_bridge_config_t *c, const char *key, const tp_toml_value_t *v)
{
    char *end;
    const unsigned long i = strtoul(key + strlen("mappings["), &end, 10);
    if (*end != ']' || end[1] != '.' || i >= TP_BRIDGE_MAX_MAPPINGS)
        return tp_err_set(TP_ERR_MALFORMED, "%s: at most %u [[mappings]]", key, TP_BRIDGE_MAX_MAPPINGS);
    tp_bridge_mapping_t *m = &c->mappings[i];
    if (i + 1 > c->nmappings)
        c->nmappings = (unsigned)i + 1;
    const char *name = end + 2;
    if (strcmp(name, "direction") == 0) {
        if (want(v, TP_TOML_STRING, key) != 0)
            return -1;
        if (strcmp(v->str, "send") == 0)
            m->direction = TP_BRIDGE_SEND;
        else if (strcmp(v->str, "receive") == 0)
            m->direction = TP_BRIDGE_RECEIVE;
        else
            return tp_err_set(TP_ERR_MALFORMED, "%s must be \"send\" or \"receive\"", key);
        return 0;
    }
    if (strcmp(name, "source_stream_id") == 0)
        return u32(v, key, 1, &m->source_stream_id);
    if (strcmp(name, "dest_stream_id") == 0)
        return u32(v, key, 0, &m->dest_stream_id);
    if (strcmp(name, "metadata_stream_id") == 0)
        return u32(v, key, 0, &m->metadata_stream_id);
    if (strcmp(name, "profile") == 0 || strcmp(name, "source_control_stream_id") == 0 || strcmp(name, "dest_control_stream_id") == 0)
        return 0; /* upstream keys with no effect here: the destination's profile is the driver's */
    return tp_err_set(TP_ERR_MALFORMED, "unknown key %s", key);
}

static int handler(void *ud, const char *key, const tp_toml_value_t *v)
{
    tp_bridge_config_t *c = ud;
    if (strncmp(key, "mappings[", 9) == 0)
        return mapping_key(c, key, v);
    if (strncmp(key, "bridge.", 7) != 0)
        return tp_err_set(TP_ERR_MALFORMED, "unknown key %s (keys live under [bridge] and [[mappings]])", key);
    const char *k = key + 7;
    if (strcmp(k, "instance_id") == 0)
        return str(v, key, c->instance_id, sizeof c->instance_id);
    if (strcmp(k, "payload_channel") == 0)
        return str(v, key, c->payload_channel, sizeof c->payload_channel);
    if (strcmp(k, "control_channel") == 0)
        return str(v, key, c->control_channel, sizeof c->control_channel);
    if (strcmp(k, "metadata_channel") == 0)
        return str(v, key, c->metadata_channel, sizeof c->metadata_channel);
    if (strcmp(k, "metadata_stream_id") == 0) {
        uint32_t x;
        if (u32(v, key, 1, &x) != 0 || x > INT32_MAX)
            return tp_err_set(TP_ERR_MALFORMED, "%s must be 1..2147483647", key);
        c->metadata_stream_id = (int32_t)x;
        return 0;
    }
    if (strcmp(k, "forward_metadata") == 0 || strcmp(k, "forward_tracelink") == 0) {
        if (want(v, TP_TOML_BOOL, key) != 0)
            return -1;
        *(k[8] == 'm' ? &c->forward_metadata : &c->forward_tracelink) = v->b != 0;
        return 0;
    }
    if (strcmp(k, "payload_stream_id") == 0 || strcmp(k, "control_stream_id") == 0) {
        uint32_t x;
        if (u32(v, key, 1, &x) != 0 || x > INT32_MAX)
            return tp_err_set(TP_ERR_MALFORMED, "%s must be 1..2147483647", key);
        *(k[0] == 'p' ? &c->payload_stream_id : &c->control_stream_id) = (int32_t)x;
        return 0;
    }
    if (strcmp(k, "mtu_bytes") == 0)
        return u32(v, key, 1, &c->mtu_bytes);
    if (strcmp(k, "chunk_bytes") == 0)
        return u32(v, key, 0, &c->chunk_bytes);
    if (strcmp(k, "max_chunk_bytes") == 0)
        return u32(v, key, 1, &c->max_chunk_bytes);
    if (strcmp(k, "max_payload_bytes") == 0)
        return u32(v, key, 1, &c->max_payload_bytes);
    if (strcmp(k, "assembly_timeout_ms") == 0)
        return u32(v, key, 1, &c->assembly_timeout_ms);
    if (strcmp(k, "send_timeout_ms") == 0)
        return u32(v, key, 0, &c->send_timeout_ms);
    if (strcmp(k, "crc32c") == 0) {
        if (want(v, TP_TOML_BOOL, key) != 0)
            return -1;
        c->crc32c = v->b != 0;
        return 0;
    }
    if (strcmp(k, "dest_stream_id_range") == 0) {
        if (v->type == TP_TOML_STRING)
            return range_text(c, v->str);
        return tp_err_set(TP_ERR_MALFORMED, "bridge.dest_stream_id_range must be \"LO-HI\" or [LO, HI]");
    }
    if (strcmp(k, "dest_stream_id_range[0]") == 0)
        return u32(v, key, 1, &c->dest_range_lo);
    if (strcmp(k, "dest_stream_id_range[1]") == 0)
        return u32(v, key, 1, &c->dest_range_hi);
    if (strcmp(k, "forward_qos") == 0) {
        if (want(v, TP_TOML_BOOL, key) != 0)
            return -1;
        c->forward_qos = v->b != 0;
        return 0;
    }
    if (strcmp(k, "dest_busy_timeout_ms") == 0)
        return u32(v, key, 1, &c->dest_busy_timeout_ms);
    if (strcmp(k, "forward_progress") == 0) {
        if (want(v, TP_TOML_BOOL, key) != 0)
            return -1;
        c->forward_progress = v->b != 0; /* BR-9.a as BR-P11 builds it */
        return 0;
    }
    return tp_err_set(TP_ERR_MALFORMED, "unknown key %s", key);
}

int tp_bridge_config_parse(tp_bridge_config_t *cfg, const char *text, size_t len)
{
    return tp_toml_parse(text, len, handler, cfg);
}

int tp_bridge_config_load_file(tp_bridge_config_t *cfg, const char *path)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tp_err_set(TP_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)CONFIG_MAX) {
        close(fd);
        return tp_err_set(TP_ERR_INVALID_ARG, "%s: not a regular file of at most %u bytes", path, CONFIG_MAX);
    }
    char *text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        close(fd);
        return tp_err_set(TP_ERR_CAPACITY, "%s: out of memory", path);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        const ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    text[got] = '\0';
    const int rc = tp_bridge_config_parse(cfg, text, got);
    free(text);
    if (rc != 0)
        return tp_err_wrap("%s", path);
    return 0;
}
