/* Driver configuration: defaults, TOML keys, environment, validation
 * (docs/spec/driver.md §5.1-§5.3). */
#include "tensorpool/driver_config.h"

#include "driver_toml.h"
#include "tensorpool/error.h"
#include "tensorpool/shm_dir.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum key_kind_e { K_STR, K_U32, K_U64, K_BOOL, K_RANGES, K_DIRS, K_OCTAL } key_kind_t;

typedef struct key_s {
    const char *key;
    key_kind_t kind;
    size_t off;
    size_t cap; /* K_STR: buffer size */
} key_t_;

#define F(field) offsetof(tp_driver_config_t, field)
#define S(field) sizeof(((tp_driver_config_t *)0)->field)

static const key_t_ keys[] = {
    {"driver.instance_id", K_STR, F(instance_id), S(instance_id)},
    {"driver.aeron_dir", K_STR, F(aeron_dir), S(aeron_dir)},
    {"driver.embedded_media_driver", K_BOOL, F(embedded_media_driver), 0},
    {"driver.idle_park_max_us", K_U32, F(idle_park_max_us), 0},
    {"driver.control_channel", K_STR, F(control_channel), S(control_channel)},
    {"driver.control_stream_id", K_U32, F(control_stream_id), 0},
    {"driver.announce_channel", K_STR, F(announce_channel), S(announce_channel)},
    {"driver.announce_stream_id", K_U32, F(announce_stream_id), 0},
    {"driver.qos_channel", K_STR, F(qos_channel), S(qos_channel)},
    {"driver.qos_stream_id", K_U32, F(qos_stream_id), 0},
    {"driver.descriptor_stream_id", K_U32, F(descriptor_stream_id), 0}, /* extension: clients' shared stream */
    {"driver.stream_id_range", K_RANGES, F(stream_id_range), 0},
    {"driver.descriptor_stream_id_range", K_RANGES, F(descriptor_stream_id_range), 0},
    {"driver.control_stream_id_range", K_RANGES, F(control_stream_id_range), 0},
    {"shm.base_dir", K_STR, F(base_dir), S(base_dir)},
    {"shm.namespace", K_STR, F(ns), S(ns)},
    {"shm.require_hugepages", K_BOOL, F(require_hugepages), 0},
    {"shm.page_size_bytes", K_U32, F(page_size_bytes), 0},
    {"shm.permissions_mode", K_OCTAL, F(permissions_mode), 0},
    {"shm.allowed_base_dirs", K_DIRS, 0, 0},
    {"policies.allow_dynamic_streams", K_BOOL, F(allow_dynamic_streams), 0},
    {"policies.default_profile", K_STR, F(default_profile), S(default_profile)},
    {"policies.announce_period_ms", K_U32, F(announce_period_ms), 0},
    {"policies.lease_keepalive_interval_ms", K_U32, F(lease_keepalive_interval_ms), 0},
    {"policies.lease_expiry_grace_intervals", K_U32, F(lease_expiry_grace_intervals), 0},
    {"policies.node_id_reuse_cooldown_ms", K_U32, F(node_id_reuse_cooldown_ms), 0},
    {"policies.prefault_shm", K_BOOL, F(prefault_shm), 0},
    {"policies.mlock_shm", K_BOOL, F(mlock_shm), 0},
    {"policies.epoch_gc_enabled", K_BOOL, F(epoch_gc_enabled), 0},
    {"policies.epoch_gc_keep", K_U32, F(epoch_gc_keep), 0},
    {"policies.epoch_gc_min_age_ns", K_U64, F(epoch_gc_min_age_ns), 0},
    {"policies.epoch_gc_on_startup", K_BOOL, F(epoch_gc_on_startup), 0},
    {"policies.shutdown_timeout_ms", K_U32, F(shutdown_timeout_ms), 0},
    {"policies.shutdown_token", K_STR, F(shutdown_token), S(shutdown_token)},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

void tp_driver_config_defaults(tp_driver_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    copy_str(cfg->instance_id, sizeof cfg->instance_id, "driver-01");
    copy_str(cfg->control_channel, sizeof cfg->control_channel, "tp:ipc");
    cfg->control_stream_id = 1000;
    copy_str(cfg->qos_channel, sizeof cfg->qos_channel, "tp:ipc");
    cfg->qos_stream_id = 1200;
    cfg->descriptor_stream_id = 1100;
    copy_str(cfg->base_dir, sizeof cfg->base_dir, TP_SHM_DEFAULT_BASE_DIR);
    copy_str(cfg->ns, sizeof cfg->ns, "default");
    cfg->page_size_bytes = 4096;
    cfg->permissions_mode = 0660;
    cfg->announce_period_ms = 1000;
    cfg->lease_keepalive_interval_ms = 1000;
    cfg->lease_expiry_grace_intervals = 3;
    cfg->node_id_reuse_cooldown_ms = 1000;
    cfg->prefault_shm = true;
    cfg->epoch_gc_enabled = true;
    cfg->epoch_gc_keep = 2;
    cfg->shutdown_timeout_ms = 2000;
    cfg->idle_park_max_us = TP_DRIVER_IDLE_PARK_MAX_US_DEFAULT;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9') return -1;
    errno = 0;
    char *end = NULL;
    const unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) return -1;
    *out = v;
    return 0;
}

static int range_overlap(const tp_driver_range_t *a, const tp_driver_range_t *b)
{
    return a->start <= b->end && b->start <= a->end;
}

static int add_range(tp_driver_ranges_t *out, const char *item)
{
    while (*item == ' ') item++;
    char buf[64];
    size_t n = strlen(item);
    while (n > 0 && item[n - 1] == ' ') n--;
    if (n == 0 || n >= sizeof buf) return tp_err_set(TP_ERR_INVALID_ARG, "range '%s': expected \"N\" or \"A-B\"", item);
    memcpy(buf, item, n);
    buf[n] = '\0';
    char *dash = strchr(buf, '-');
    uint64_t a = 0, b = 0;
    if (dash != NULL) *dash = '\0';
    if (parse_u64(buf, UINT32_MAX, &a) != 0 || (dash != NULL && parse_u64(dash + 1, UINT32_MAX, &b) != 0))
        return tp_err_set(TP_ERR_INVALID_ARG, "range '%s': expected \"N\" or \"A-B\" with decimal ids", item);
    if (dash == NULL) b = a;
    if (a < 1 || a > b) return tp_err_set(TP_ERR_INVALID_ARG, "range '%s': need 1 <= start <= end", item);
    if (out->count == TP_DRIVER_MAX_RANGES) return tp_err_set(TP_ERR_CAPACITY, "more than %d ranges", TP_DRIVER_MAX_RANGES);
    out->r[out->count].start = (uint32_t)a;
    out->r[out->count].end = (uint32_t)b;
    out->count++;
    return 0;
}

int tp_driver_ranges_parse(tp_driver_ranges_t *out, const char *text)
{
    memset(out, 0, sizeof *out);
    char buf[1024];
    if (strlen(text) >= sizeof buf) return tp_err_set(TP_ERR_INVALID_ARG, "range list too long");
    copy_str(buf, sizeof buf, text);
    if (buf[strspn(buf, " ")] == '\0') return 0; /* empty: disabled */
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
        if (add_range(out, tok) != 0) return -1;
    return 0;
}

static int set_dirs(tp_driver_config_t *cfg, const char *text)
{
    cfg->n_allowed_base_dirs = 0;
    char buf[TP_SHM_PATH_MAX];
    if (strlen(text) >= sizeof buf) return tp_err_set(TP_ERR_INVALID_ARG, "allowed_base_dirs too long");
    copy_str(buf, sizeof buf, text);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (cfg->n_allowed_base_dirs == TP_SHM_MAX_BASES)
            return tp_err_set(TP_ERR_CAPACITY, "more than %d allowed_base_dirs", TP_SHM_MAX_BASES);
        copy_str(cfg->allowed_base_dirs[cfg->n_allowed_base_dirs++], TP_SHM_PATH_MAX, tok);
    }
    return 0;
}

static int set_scalar(tp_driver_config_t *cfg, const key_t_ *k, const char *value)
{
    char *base = (char *)cfg;
    uint64_t v = 0;
    switch (k->kind) {
    case K_STR:
        if (k->cap == 0) return 0;
        if (strlen(value) >= k->cap) return tp_err_set(TP_ERR_INVALID_ARG, "%s: longer than %zu bytes", k->key, k->cap - 1);
        copy_str(base + k->off, k->cap, value);
        return 0;
    case K_U32:
    case K_U64:
        if (parse_u64(value, k->kind == K_U32 ? UINT32_MAX : UINT64_MAX, &v) != 0)
            return tp_err_set(TP_ERR_INVALID_ARG, "%s: '%s' is not an unsigned %s-bit integer", k->key, value,
                              k->kind == K_U32 ? "32" : "64");
        if (k->kind == K_U32) {
            const uint32_t v32 = (uint32_t)v;
            memcpy(base + k->off, &v32, sizeof v32);
        } else {
            memcpy(base + k->off, &v, sizeof v);
        }
        return 0;
    case K_BOOL: {
        bool b;
        if (strcmp(value, "true") == 0) b = true;
        else if (strcmp(value, "false") == 0) b = false;
        else return tp_err_set(TP_ERR_INVALID_ARG, "%s: '%s' is not true or false", k->key, value);
        memcpy(base + k->off, &b, sizeof b);
        return 0;
    }
    case K_OCTAL: {
        if (value[0] == '\0' || strspn(value, "01234567") != strlen(value) || strlen(value) > 4)
            return tp_err_set(TP_ERR_INVALID_ARG, "%s: '%s' is not an octal mode like \"660\"", k->key, value);
        const uint32_t m = (uint32_t)strtoul(value, NULL, 8);
        if (m > 0777) return tp_err_set(TP_ERR_INVALID_ARG, "%s: mode %s is above 0777", k->key, value);
        memcpy(base + k->off, &m, sizeof m);
        return 0;
    }
    case K_RANGES:
        if (tp_driver_ranges_parse((tp_driver_ranges_t *)(void *)(base + k->off), value) != 0)
            return tp_err_wrap("%s", k->key);
        return 0;
    case K_DIRS:
        return set_dirs(cfg, value);
    }
    return tp_err_set(TP_ERR_INVALID_ARG, "%s: unhandled key kind", k->key);
}

static const key_t_ *find_key(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].key, key) == 0) return &keys[i];
    return NULL;
}

int tp_driver_config_set(tp_driver_config_t *cfg, const char *key, const char *value)
{
    const key_t_ *k = find_key(key);
    if (k == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "unknown configuration key '%s'", key);
    return set_scalar(cfg, k, value);
}

/* ---- TOML ---- */

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n >= TP_DRIVER_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return 0;
    return 1;
}

static tp_driver_profile_t *profile_get(tp_driver_config_t *cfg, const char *name, size_t n)
{
    for (unsigned i = 0; i < cfg->nprofiles; i++)
        if (strlen(cfg->profiles[i].name) == n && memcmp(cfg->profiles[i].name, name, n) == 0) return &cfg->profiles[i];
    if (cfg->nprofiles == TP_DRIVER_MAX_PROFILES) {
        tp_err_set(TP_ERR_CAPACITY, "more than %d profiles", TP_DRIVER_MAX_PROFILES);
        return NULL;
    }
    tp_driver_profile_t *p = &cfg->profiles[cfg->nprofiles++];
    memset(p, 0, sizeof *p);
    memcpy(p->name, name, n);
    p->header_nslots = 1024;
    return p;
}

static tp_driver_stream_cfg_t *stream_get(tp_driver_config_t *cfg, const char *name, size_t n)
{
    for (unsigned i = 0; i < cfg->nstreams; i++)
        if (strlen(cfg->streams[i].name) == n && memcmp(cfg->streams[i].name, name, n) == 0) return &cfg->streams[i];
    if (cfg->nstreams == TP_DRIVER_MAX_STREAMS) {
        tp_err_set(TP_ERR_CAPACITY, "more than %d streams", TP_DRIVER_MAX_STREAMS);
        return NULL;
    }
    tp_driver_stream_cfg_t *s = &cfg->streams[cfg->nstreams++];
    memset(s, 0, sizeof *s);
    memcpy(s->name, name, n);
    return s;
}

static int want_int(const char *key, const tp_toml_value_t *v, uint64_t max, uint64_t *out)
{
    if (v->type != TP_TOML_INT || v->i < 0 || (uint64_t)v->i > max)
        return tp_err_set(TP_ERR_INVALID_ARG, "%s: expected an integer in 0..%llu", key, (unsigned long long)max);
    *out = (uint64_t)v->i;
    return 0;
}

static int toml_profile(tp_driver_config_t *cfg, const char *key, const tp_toml_value_t *v)
{
    const char *name = key + strlen("profiles.");
    const char *dot = strchr(name, '.');
    if (dot == NULL || !name_ok(name, (size_t)(dot - name)))
        return tp_err_set(TP_ERR_INVALID_ARG, "%s: expected profiles.<name>.<key> with a [A-Za-z0-9_-] name", key);
    tp_driver_profile_t *p = profile_get(cfg, name, (size_t)(dot - name));
    if (p == NULL) return -1;
    const char *rest = dot + 1;
    uint64_t x = 0;
    if (strcmp(rest, "header_nslots") == 0) {
        if (want_int(key, v, UINT32_MAX, &x) != 0) return -1;
        p->header_nslots = (uint32_t)x;
        return 0;
    }
    unsigned idx = 0;
    int used = 0;
    char field[32];
    if (sscanf(rest, "payload_pools[%u].%31[a-z_]%n", &idx, field, &used) == 2 && rest[used] == '\0') {
        if (idx >= TP_SHM_MAX_POOLS) return tp_err_set(TP_ERR_CAPACITY, "%s: at most %d pools per profile", key, TP_SHM_MAX_POOLS);
        if (idx + 1 > p->npools) p->npools = idx + 1;
        if (strcmp(field, "pool_id") == 0) {
            if (want_int(key, v, 65535, &x) != 0) return -1;
            p->pools[idx].pool_id = (uint16_t)x;
            return 0;
        }
        if (strcmp(field, "stride_bytes") == 0) {
            if (want_int(key, v, UINT32_MAX, &x) != 0) return -1;
            p->pools[idx].stride_bytes = (uint32_t)x;
            return 0;
        }
    }
    return tp_err_set(TP_ERR_INVALID_ARG, "unknown profile key '%s'", key);
}

static int toml_stream(tp_driver_config_t *cfg, const char *key, const tp_toml_value_t *v)
{
    const char *name = key + strlen("streams.");
    const char *dot = strchr(name, '.');
    if (dot == NULL || !name_ok(name, (size_t)(dot - name)))
        return tp_err_set(TP_ERR_INVALID_ARG, "%s: expected streams.<name>.<key> with a [A-Za-z0-9_-] name", key);
    tp_driver_stream_cfg_t *s = stream_get(cfg, name, (size_t)(dot - name));
    if (s == NULL) return -1;
    uint64_t x = 0;
    if (strcmp(dot + 1, "stream_id") == 0) {
        if (want_int(key, v, UINT32_MAX, &x) != 0) return -1;
        s->stream_id = (uint32_t)x;
        return 0;
    }
    if (strcmp(dot + 1, "profile") == 0) {
        if (v->type != TP_TOML_STRING || strlen(v->str) >= sizeof s->profile)
            return tp_err_set(TP_ERR_INVALID_ARG, "%s: expected a profile name string", key);
        copy_str(s->profile, sizeof s->profile, v->str);
        return 0;
    }
    return tp_err_set(TP_ERR_INVALID_ARG, "unknown stream key '%s'", key);
}

static int toml_handler(void *ud, const char *key, const tp_toml_value_t *v)
{
    tp_driver_config_t *cfg = ud;
    if (strncmp(key, "supervisor.", 11) == 0) return 0; /* outside this driver (§5.1) */
    if (strncmp(key, "profiles.", 9) == 0) return toml_profile(cfg, key, v);
    if (strncmp(key, "streams.", 8) == 0) return toml_stream(cfg, key, v);
    /* array element "k[i]" of a range list or of allowed_base_dirs */
    char base[TP_TOML_KEY_MAX];
    copy_str(base, sizeof base, key);
    int index = -1;
    char *br = strchr(base, '[');
    if (br != NULL) {
        unsigned i = 0;
        int used = 0;
        if (sscanf(br, "[%u]%n", &i, &used) != 1 || br[used] != '\0')
            return tp_err_set(TP_ERR_INVALID_ARG, "unknown configuration key '%s'", key);
        index = (int)i;
        *br = '\0';
    }
    const key_t_ *k = find_key(base);
    if (k == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "unknown configuration key '%s'", key);
    if (index >= 0 && k->kind != K_RANGES && k->kind != K_DIRS)
        return tp_err_set(TP_ERR_INVALID_ARG, "%s: an array is not allowed here", base);
    char text[64];
    const char *value = text;
    switch (v->type) {
    case TP_TOML_STRING:
        if (k->kind != K_STR && k->kind != K_RANGES && k->kind != K_DIRS && k->kind != K_OCTAL)
            return tp_err_set(TP_ERR_INVALID_ARG, "%s: expected %s, got a string", base,
                              k->kind == K_BOOL ? "true or false" : "an integer");
        value = v->str;
        break;
    case TP_TOML_INT:
        if (k->kind != K_U32 && k->kind != K_U64) return tp_err_set(TP_ERR_INVALID_ARG, "%s: expected a string", base);
        if (v->i < 0) return tp_err_set(TP_ERR_INVALID_ARG, "%s: must not be negative", base);
        snprintf(text, sizeof text, "%lld", (long long)v->i);
        break;
    case TP_TOML_BOOL:
        if (k->kind != K_BOOL) return tp_err_set(TP_ERR_INVALID_ARG, "%s: a boolean is not allowed here", base);
        snprintf(text, sizeof text, "%s", v->b ? "true" : "false");
        break;
    }
    if (k->kind == K_RANGES) {
        tp_driver_ranges_t *rs = (tp_driver_ranges_t *)(void *)((char *)cfg + k->off);
        if (index <= 0) memset(rs, 0, sizeof *rs);
        if (strchr(value, ',') != NULL) return tp_err_set(TP_ERR_INVALID_ARG, "%s: use an array for several ranges", base);
        return add_range(rs, value) != 0 ? tp_err_wrap("%s", base) : 0;
    }
    if (k->kind == K_DIRS) {
        if (index <= 0) cfg->n_allowed_base_dirs = 0;
        if (cfg->n_allowed_base_dirs == TP_SHM_MAX_BASES)
            return tp_err_set(TP_ERR_CAPACITY, "%s: more than %d entries", base, TP_SHM_MAX_BASES);
        if (strlen(value) >= TP_SHM_PATH_MAX) return tp_err_set(TP_ERR_INVALID_ARG, "%s: path too long", base);
        copy_str(cfg->allowed_base_dirs[cfg->n_allowed_base_dirs++], TP_SHM_PATH_MAX, value);
        return 0;
    }
    return set_scalar(cfg, k, value);
}

int tp_driver_config_parse(tp_driver_config_t *cfg, const char *text, size_t len)
{
    return tp_toml_parse(text, len, toml_handler, cfg);
}

int tp_driver_config_load_file(tp_driver_config_t *cfg, const char *path)
{
    return tp_toml_parse_file(path, toml_handler, cfg);
}

int tp_driver_config_apply_env(tp_driver_config_t *cfg, const char *(*getenv_fn)(const char *name))
{
    const char *v = getenv_fn != NULL ? getenv_fn("TP_DIR") : getenv("TP_DIR");
    if (v != NULL && v[0] != '\0' && set_scalar(cfg, find_key("shm.base_dir"), v) != 0) return tp_err_wrap("TP_DIR");
    for (size_t i = 0; i < NKEYS; i++) {
        char name[128];
        size_t n = 0;
        for (const char *p = keys[i].key; *p != '\0' && n + 1 < sizeof name; p++)
            name[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
        name[n] = '\0';
        v = getenv_fn != NULL ? getenv_fn(name) : getenv(name);
        if (v == NULL) continue;
        if (set_scalar(cfg, &keys[i], v) != 0) return tp_err_wrap("environment %s", name);
    }
    return 0;
}

/* ---- validation ---- */

static int is_pow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

static const tp_driver_ranges_t *range_list(const tp_driver_config_t *cfg, int i, const char **name)
{
    static const char *names[3] = {"driver.stream_id_range", "driver.descriptor_stream_id_range",
                                   "driver.control_stream_id_range"};
    *name = names[i];
    return i == 0 ? &cfg->stream_id_range : i == 1 ? &cfg->descriptor_stream_id_range : &cfg->control_stream_id_range;
}

int tp_driver_config_validate(const tp_driver_config_t *cfg)
{
    if (cfg->base_dir[0] != '/') return tp_err_set(TP_ERR_INVALID_ARG, "shm.base_dir '%s' must be absolute", cfg->base_dir);
    if (tp_shm_namespace_check(cfg->ns) != 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "shm.namespace '%s' must be non-empty [A-Za-z0-9_-]", cfg->ns);
    if (cfg->control_stream_id == 0 || cfg->control_stream_id > INT32_MAX)
        return tp_err_set(TP_ERR_INVALID_ARG, "driver.control_stream_id must be in 1..%d", INT32_MAX);
    if (cfg->announce_stream_id > INT32_MAX || cfg->qos_stream_id > INT32_MAX)
        return tp_err_set(TP_ERR_INVALID_ARG, "driver stream ids must be at most %d", INT32_MAX);
    if (cfg->descriptor_stream_id == 0 || cfg->descriptor_stream_id > INT32_MAX)
        return tp_err_set(TP_ERR_INVALID_ARG, "driver.descriptor_stream_id must be in 1..%d", INT32_MAX);
    if (cfg->mlock_shm)
        return tp_err_set(TP_ERR_UNSUPPORTED, "policies.mlock_shm=true is not supported by this driver (D-17.d: refusing "
                                              "rather than running without the lock)");
    if (cfg->lease_keepalive_interval_ms == 0 || cfg->lease_expiry_grace_intervals == 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "policies.lease_keepalive_interval_ms and lease_expiry_grace_intervals must be > 0");
    if (cfg->idle_park_max_us == 0 || cfg->idle_park_max_us > TP_DRIVER_IDLE_PARK_MAX_US_LIMIT)
        return tp_err_set(TP_ERR_INVALID_ARG, "driver.idle_park_max_us=%u must be in 1..%u", cfg->idle_park_max_us,
                          TP_DRIVER_IDLE_PARK_MAX_US_LIMIT);
    if (cfg->nprofiles == 0) return tp_err_set(TP_ERR_INVALID_ARG, "no profiles defined (D-17.c)");
    for (unsigned i = 0; i < cfg->nprofiles; i++) {
        const tp_driver_profile_t *p = &cfg->profiles[i];
        if (!is_pow2(p->header_nslots))
            return tp_err_set(TP_ERR_INVALID_ARG, "profiles.%s.header_nslots=%u is not a power of two", p->name, p->header_nslots);
        if (p->npools == 0) return tp_err_set(TP_ERR_INVALID_ARG, "profiles.%s has no payload_pools (D-17.c)", p->name);
        for (unsigned j = 0; j < p->npools; j++) {
            if (p->pools[j].pool_id == 0)
                return tp_err_set(TP_ERR_INVALID_ARG, "profiles.%s.payload_pools[%u].pool_id missing or 0 (1..65535)", p->name, j);
            if (p->pools[j].stride_bytes == 0 || p->pools[j].stride_bytes % 64 != 0)
                return tp_err_set(TP_ERR_INVALID_ARG, "profiles.%s.payload_pools[%u].stride_bytes=%u is not a non-zero multiple of 64",
                                  p->name, j, p->pools[j].stride_bytes);
            for (unsigned k = 0; k < j; k++)
                if (p->pools[k].pool_id == p->pools[j].pool_id)
                    return tp_err_set(TP_ERR_INVALID_ARG, "profiles.%s: duplicate pool_id %u", p->name, p->pools[j].pool_id);
        }
    }
    for (unsigned i = 0; i < cfg->nstreams; i++) {
        const tp_driver_stream_cfg_t *s = &cfg->streams[i];
        if (s->stream_id == 0) return tp_err_set(TP_ERR_INVALID_ARG, "streams.%s.stream_id missing or 0", s->name);
        int found = 0;
        for (unsigned j = 0; j < cfg->nprofiles; j++) found |= strcmp(cfg->profiles[j].name, s->profile) == 0;
        if (!found) return tp_err_set(TP_ERR_INVALID_ARG, "streams.%s.profile '%s' is not a defined profile", s->name, s->profile);
        for (unsigned j = 0; j < i; j++)
            if (cfg->streams[j].stream_id == s->stream_id)
                return tp_err_set(TP_ERR_INVALID_ARG, "streams.%s and streams.%s share stream_id %u", cfg->streams[j].name,
                                  s->name, s->stream_id);
    }
    /* D-11.e/f: ranges disjoint from each other, the driver's ids and static streams */
    const uint32_t fixed[4] = {cfg->control_stream_id,
                               cfg->announce_stream_id != 0 ? cfg->announce_stream_id : cfg->control_stream_id,
                               cfg->qos_stream_id, cfg->descriptor_stream_id};
    for (int li = 0; li < 3; li++) {
        const char *ln;
        const tp_driver_ranges_t *l = range_list(cfg, li, &ln);
        for (unsigned a = 0; a < l->count; a++) {
            const tp_driver_range_t *ra = &l->r[a];
            for (int f = 0; f < 4; f++)
                if (fixed[f] >= ra->start && fixed[f] <= ra->end)
                    return tp_err_set(TP_ERR_INVALID_ARG, "%s %u-%u overlaps driver stream id %u (D-11.e)", ln, ra->start,
                                      ra->end, fixed[f]);
            for (unsigned s = 0; s < cfg->nstreams; s++)
                if (cfg->streams[s].stream_id >= ra->start && cfg->streams[s].stream_id <= ra->end)
                    return tp_err_set(TP_ERR_INVALID_ARG, "%s %u-%u overlaps static stream %s (%u) (D-11.e)", ln, ra->start,
                                      ra->end, cfg->streams[s].name, cfg->streams[s].stream_id);
            for (int mi = li; mi < 3; mi++) {
                const char *mn;
                const tp_driver_ranges_t *m = range_list(cfg, mi, &mn);
                for (unsigned b = mi == li ? a + 1 : 0; b < m->count; b++)
                    if (range_overlap(ra, &m->r[b]))
                        return tp_err_set(TP_ERR_INVALID_ARG, "%s %u-%u overlaps %s %u-%u (D-11.e)", ln, ra->start, ra->end,
                                          mn, m->r[b].start, m->r[b].end);
            }
        }
    }
    if (cfg->allow_dynamic_streams) {
        if (cfg->stream_id_range.count == 0)
            return tp_err_set(TP_ERR_INVALID_ARG, "policies.allow_dynamic_streams=true needs driver.stream_id_range (D-11.b)");
        if (cfg->default_profile[0] != '\0') {
            int found = 0;
            for (unsigned j = 0; j < cfg->nprofiles; j++) found |= strcmp(cfg->profiles[j].name, cfg->default_profile) == 0;
            if (!found)
                return tp_err_set(TP_ERR_INVALID_ARG, "policies.default_profile '%s' is not a defined profile", cfg->default_profile);
        }
    }
    /* Clients refuse a region file that grants anything to others (D-21,
     * tp_shm_path_open), and a producer maps it read-write as its owner or a
     * group member: any other mode would make every attach fail in a loop. */
    if ((cfg->permissions_mode & 0007) != 0)
        return tp_err_set(TP_ERR_INVALID_ARG,
                          "shm.permissions_mode %03o grants access to others; clients refuse such files (D-21): "
                          "use a mode with no 'other' bits, e.g. \"660\"",
                          (unsigned)cfg->permissions_mode);
    if ((cfg->permissions_mode & 0600) != 0600)
        return tp_err_set(TP_ERR_INVALID_ARG,
                          "shm.permissions_mode %03o does not let the owner read and write the files it maps: "
                          "use \"600\" or \"660\"",
                          (unsigned)cfg->permissions_mode);
    for (unsigned i = 0; i < cfg->n_allowed_base_dirs; i++)
        if (cfg->allowed_base_dirs[i][0] != '/')
            return tp_err_set(TP_ERR_INVALID_ARG, "shm.allowed_base_dirs entry '%s' must be absolute", cfg->allowed_base_dirs[i]);
    return 0;
}

static void print_ranges(FILE *f, const char *key, const tp_driver_ranges_t *r)
{
    fprintf(f, "%s = [", key);
    for (unsigned i = 0; i < r->count; i++) fprintf(f, "%s\"%u-%u\"", i ? ", " : "", r->r[i].start, r->r[i].end);
    fprintf(f, "]\n");
}

void tp_driver_config_print(const tp_driver_config_t *cfg, void *file)
{
    FILE *f = file;
    fprintf(f, "[driver]\ninstance_id = \"%s\"\ncontrol_channel = \"%s\"\ncontrol_stream_id = %u\n", cfg->instance_id,
            cfg->control_channel, cfg->control_stream_id);
    fprintf(f, "aeron_dir = \"%s\"\nembedded_media_driver = %s\nidle_park_max_us = %u\n", cfg->aeron_dir,
            cfg->embedded_media_driver ? "true" : "false", cfg->idle_park_max_us);
    fprintf(f, "announce_channel = \"%s\"\nannounce_stream_id = %u\nqos_channel = \"%s\"\nqos_stream_id = %u\n",
            cfg->announce_channel[0] ? cfg->announce_channel : cfg->control_channel,
            cfg->announce_stream_id ? cfg->announce_stream_id : cfg->control_stream_id, cfg->qos_channel, cfg->qos_stream_id);
    fprintf(f, "descriptor_stream_id = %u\n", cfg->descriptor_stream_id);
    print_ranges(f, "stream_id_range", &cfg->stream_id_range);
    print_ranges(f, "descriptor_stream_id_range", &cfg->descriptor_stream_id_range);
    print_ranges(f, "control_stream_id_range", &cfg->control_stream_id_range);
    fprintf(f, "\n[shm]\nbase_dir = \"%s\"\nnamespace = \"%s\"\nrequire_hugepages = %s\npage_size_bytes = %u\n"
               "permissions_mode = \"%o\"\nallowed_base_dirs = [",
            cfg->base_dir, cfg->ns, cfg->require_hugepages ? "true" : "false", cfg->page_size_bytes, cfg->permissions_mode);
    if (cfg->n_allowed_base_dirs == 0) fprintf(f, "\"%s\"", cfg->base_dir);
    for (unsigned i = 0; i < cfg->n_allowed_base_dirs; i++) fprintf(f, "%s\"%s\"", i ? ", " : "", cfg->allowed_base_dirs[i]);
    fprintf(f, "]\n\n[policies]\nallow_dynamic_streams = %s\ndefault_profile = \"%s\"\nannounce_period_ms = %u\n"
               "lease_keepalive_interval_ms = %u\nlease_expiry_grace_intervals = %u\nnode_id_reuse_cooldown_ms = %u\n"
               "prefault_shm = %s\nmlock_shm = %s\nepoch_gc_enabled = %s\nepoch_gc_keep = %u\nepoch_gc_min_age_ns = %llu\n"
               "epoch_gc_on_startup = %s\nshutdown_timeout_ms = %u\nshutdown_token = \"%s\"\n",
            cfg->allow_dynamic_streams ? "true" : "false",
            cfg->default_profile[0] ? cfg->default_profile : (cfg->nprofiles ? cfg->profiles[0].name : ""),
            cfg->announce_period_ms, cfg->lease_keepalive_interval_ms, cfg->lease_expiry_grace_intervals,
            cfg->node_id_reuse_cooldown_ms, cfg->prefault_shm ? "true" : "false", cfg->mlock_shm ? "true" : "false",
            cfg->epoch_gc_enabled ? "true" : "false", cfg->epoch_gc_keep, (unsigned long long)cfg->epoch_gc_min_age_ns,
            cfg->epoch_gc_on_startup ? "true" : "false", cfg->shutdown_timeout_ms, cfg->shutdown_token[0] ? "<set>" : "");
    for (unsigned i = 0; i < cfg->nprofiles; i++) {
        const tp_driver_profile_t *p = &cfg->profiles[i];
        fprintf(f, "\n[profiles.%s]\nheader_nslots = %u\npayload_pools = [", p->name, p->header_nslots);
        for (unsigned j = 0; j < p->npools; j++)
            fprintf(f, "%s{ pool_id = %u, stride_bytes = %u }", j ? ", " : "", p->pools[j].pool_id, p->pools[j].stride_bytes);
        fprintf(f, "]\n");
    }
    for (unsigned i = 0; i < cfg->nstreams; i++)
        fprintf(f, "\n[streams.%s]\nstream_id = %u\nprofile = \"%s\"\n", cfg->streams[i].name, cfg->streams[i].stream_id,
                cfg->streams[i].profile);
}
