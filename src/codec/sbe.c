/* SBE runtime: header, validation walk, group iteration, ordered encoding. */
#include "tensorpool/codec/sbe.h"

#include <inttypes.h>

/* Var data lengths beyond this are malformed whatever the schema says
 * (docs/spec/wire.md 4.1: maxValue 2^30). */
#define TP_SBE_VAR_MAX UINT32_C(1073741824)

int tp_sbe_header_read(const void *buf, size_t len, tp_sbe_header_t *out)
{
    const uint8_t *b = buf;
    if (buf == NULL || len < TP_SBE_HEADER_LENGTH)
        return tp_err_set(TP_ERR_TRUNCATED, "message of %zu bytes is shorter than the 8-byte header",
                          buf == NULL ? (size_t)0 : len);
    out->block_length = tp_sbe_get_u16(b);
    out->template_id = tp_sbe_get_u16(b + 2);
    out->schema_id = tp_sbe_get_u16(b + 4);
    out->version = tp_sbe_get_u16(b + 6);
    return 0;
}

/* Check one var-data field at *pos and move past it. */
static int walk_var(const uint8_t *b, size_t len, size_t *pos, uint32_t max, const char *msg,
                    const char *name)
{
    if (len - *pos < TP_SBE_VAR_HEADER_LENGTH)
        return tp_err_set(TP_ERR_TRUNCATED, "%s: var data '%s' length prefix at offset %zu is cut off",
                          msg, name, *pos);
    uint32_t n = tp_sbe_get_u32(b + *pos);
    if (n > max)
        return tp_err_set(TP_ERR_MALFORMED, "%s: var data '%s' length %" PRIu32 " exceeds maxValue %" PRIu32,
                          msg, name, n, max);
    if (len - *pos - TP_SBE_VAR_HEADER_LENGTH < n)
        return tp_err_set(TP_ERR_TRUNCATED,
                          "%s: var data '%s' length %" PRIu32 " exceeds the %zu bytes left",
                          msg, name, n, len - *pos - TP_SBE_VAR_HEADER_LENGTH);
    *pos += TP_SBE_VAR_HEADER_LENGTH + n;
    return 0;
}

static int check_block_length(const tp_sbe_layout_t *L, uint16_t got, uint16_t want, const char *what)
{
    if (L->policy == TP_SBE_POLICY_STRICT && got != want)
        return tp_err_set(TP_ERR_MALFORMED, "%s: %s blockLength %u, the schema requires %u", L->name,
                          what, got, want);
    if (got < want)
        return tp_err_set(TP_ERR_MALFORMED, "%s: %s blockLength %u is below the schema's %u", L->name,
                          what, got, want);
    return 0;
}

/* Children of a group entry after its fixed part: nested groups and var
 * data (sub), or entry_nvars var-data fields. */
static uint8_t entry_children(const tp_sbe_step_t *s) { return s->sub != NULL ? s->nsub : s->entry_nvars; }

static bool child_is_group(const tp_sbe_step_t *s, uint8_t c)
{
    return s->sub != NULL && s->sub[c].kind == TP_SBE_STEP_GROUP;
}

static int walk_group(const tp_sbe_layout_t *L, const tp_sbe_step_t *s, const uint8_t *b, size_t len,
                      size_t *pos)
{
    if (len - *pos < TP_SBE_GROUP_HEADER_LENGTH)
        return tp_err_set(TP_ERR_TRUNCATED, "%s: group '%s' header at offset %zu is cut off", L->name,
                          s->name, *pos);
    uint16_t gbl = tp_sbe_get_u16(b + *pos);
    uint16_t n = tp_sbe_get_u16(b + *pos + 2);
    if (check_block_length(L, gbl, s->entry_block_length, s->name) < 0)
        return -1;
    *pos += TP_SBE_GROUP_HEADER_LENGTH;
    /* Every entry needs at least its fixed part and its children's length
     * prefixes or group headers (4 bytes each). */
    size_t min_entry = (size_t)gbl + (size_t)entry_children(s) * TP_SBE_VAR_HEADER_LENGTH;
    if ((size_t)n * min_entry > len - *pos)
        return tp_err_set(TP_ERR_TRUNCATED,
                          "%s: group '%s' count %u too large: needs at least %zu bytes, %zu left",
                          L->name, s->name, n, (size_t)n * min_entry, len - *pos);
    for (uint16_t k = 0; k < n; k++) {
        if (len - *pos < gbl)
            return tp_err_set(TP_ERR_TRUNCATED, "%s: group '%s' entry %u is cut off", L->name, s->name, k);
        if (s->validate_entry != NULL && s->validate_entry(b + *pos, k) < 0)
            return tp_err_wrap("%s", L->name);
        *pos += gbl;
        for (uint8_t c = 0; c < entry_children(s); c++) {
            const int rc = child_is_group(s, c) ? walk_group(L, &s->sub[c], b, len, pos)
                                                : walk_var(b, len, pos, TP_SBE_VAR_MAX, L->name,
                                                           s->sub != NULL ? s->sub[c].name : s->name);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

int tp_sbe_dec_wrap(const tp_sbe_layout_t *L, tp_sbe_dec_t *d, size_t *step_off, const void *buf,
                    size_t len, bool headerless)
{
    const uint8_t *b = buf;
    size_t root = 0;
    uint16_t block_length = L->block_length;
    uint16_t version = L->version;
    if (buf == NULL)
        return tp_err_set(TP_ERR_INVALID_ARG, "%s: no buffer", L->name);
    if (!headerless) {
        tp_sbe_header_t h = {0}; /* zeroed: GCC cannot see that a failed read returns -1 */
        if (tp_sbe_header_read(buf, len, &h) < 0)
            return -1;
        if (h.schema_id != L->schema_id)
            return tp_err_set(TP_ERR_NOT_MINE, "schema id %u, expected %u", h.schema_id, L->schema_id);
        if (h.template_id != L->template_id)
            return tp_err_set(TP_ERR_NOT_MINE, "template id %u is not %s (%u)", h.template_id, L->name,
                              L->template_id);
        if (h.version == 0)
            return tp_err_set(TP_ERR_MALFORMED, "%s: version 0 is not a valid schema version", L->name);
        if (h.version > L->version)
            return tp_err_set(TP_ERR_UNSUPPORTED, "%s: version %u is newer than the supported %u", L->name,
                              h.version, L->version);
        if (check_block_length(L, h.block_length, L->block_length, "root") < 0)
            return -1;
        root = TP_SBE_HEADER_LENGTH;
        block_length = h.block_length;
        version = h.version;
    }
    if (len - root < block_length)
        return tp_err_set(TP_ERR_TRUNCATED, "%s: root block needs %u bytes, %zu available", L->name,
                          block_length, len - root);
    if (L->validate_root != NULL && L->validate_root(b + root) < 0)
        return tp_err_wrap("%s", L->name);
    size_t pos = root + block_length;
    for (uint8_t i = 0; i < L->nsteps; i++) {
        const tp_sbe_step_t *s = &L->steps[i];
        step_off[i] = pos;
        int rc = s->kind == TP_SBE_STEP_GROUP ? walk_group(L, s, b, len, &pos)
                                              : walk_var(b, len, &pos, s->max_length, L->name, s->name);
        if (rc < 0)
            return -1;
    }
    d->buf = b;
    d->len = len;
    d->root = root;
    d->end = pos;
    d->block_length = block_length;
    d->version = version;
    return 0;
}

int tp_sbe_dec_view(const tp_sbe_layout_t *L, tp_sbe_dec_t *d, const void *buf, size_t len, bool headerless)
{
    size_t root = headerless ? 0 : TP_SBE_HEADER_LENGTH;
    if (buf == NULL || len < root + L->block_length)
        return tp_err_set(TP_ERR_TRUNCATED, "%s: %zu bytes cannot hold the %zu-byte fixed part", L->name,
                          buf == NULL ? (size_t)0 : len, root + L->block_length);
    d->buf = buf;
    d->len = len;
    d->root = root;
    d->end = root + L->block_length;
    d->block_length = L->block_length;
    d->version = L->version;
    return 0;
}

void tp_sbe_group_iter_init(tp_sbe_group_iter_t *it, const tp_sbe_dec_t *d, size_t group_off,
                            uint8_t nvars)
{
    const tp_sbe_step_t plain = {.entry_nvars = nvars};
    tp_sbe_group_iter_init_at(it, d->buf, d->len, group_off, &plain);
}

void tp_sbe_group_iter_init_at(tp_sbe_group_iter_t *it, const uint8_t *buf, size_t len, size_t group_off,
                               const tp_sbe_step_t *step)
{
    memset(it, 0, sizeof *it);
    it->buf = buf;
    it->len = len;
    const uint8_t nvars = entry_children(step);
    if (group_off > len || len - group_off < TP_SBE_GROUP_HEADER_LENGTH || nvars > TP_SBE_MAX_ENTRY_VARS)
        return; /* count stays 0: nothing to iterate */
    it->block_length = tp_sbe_get_u16(buf + group_off);
    it->count = tp_sbe_get_u16(buf + group_off + 2);
    it->next = group_off + TP_SBE_GROUP_HEADER_LENGTH;
    it->nvars = nvars;
    it->sub = step->sub;
}

/* Move *pos past the nested group `s` at *pos (bounds checked: an iterator
 * may be used on a buffer that changed since it was validated). */
static int skip_group(const uint8_t *b, size_t len, size_t *pos, const tp_sbe_step_t *s)
{
    if (len - *pos < TP_SBE_GROUP_HEADER_LENGTH)
        return tp_err_set(TP_ERR_TRUNCATED, "nested group '%s' is cut off", s->name);
    const uint16_t gbl = tp_sbe_get_u16(b + *pos);
    const uint16_t n = tp_sbe_get_u16(b + *pos + 2);
    *pos += TP_SBE_GROUP_HEADER_LENGTH;
    for (uint16_t k = 0; k < n; k++) {
        if (len - *pos < gbl)
            return tp_err_set(TP_ERR_TRUNCATED, "nested group '%s' entry %u is cut off", s->name, k);
        *pos += gbl;
        for (uint8_t v = 0; v < s->entry_nvars; v++) {
            if (len - *pos < TP_SBE_VAR_HEADER_LENGTH ||
                len - *pos - TP_SBE_VAR_HEADER_LENGTH < tp_sbe_get_u32(b + *pos))
                return tp_err_set(TP_ERR_TRUNCATED, "nested group '%s' entry %u var data is cut off", s->name, k);
            *pos += TP_SBE_VAR_HEADER_LENGTH + tp_sbe_get_u32(b + *pos);
        }
    }
    return 0;
}

int tp_sbe_group_iter_next(tp_sbe_group_iter_t *it)
{
    if (it->index >= it->count)
        return 0;
    if (it->len - it->next < it->block_length)
        return tp_err_set(TP_ERR_TRUNCATED, "group entry %u is cut off", it->index);
    size_t pos = it->next + it->block_length;
    for (uint8_t v = 0; v < it->nvars; v++) {
        it->var_off[v] = pos;
        if (it->sub != NULL && it->sub[v].kind == TP_SBE_STEP_GROUP) {
            if (skip_group(it->buf, it->len, &pos, &it->sub[v]) < 0)
                return -1;
            continue;
        }
        if (it->len - pos < TP_SBE_VAR_HEADER_LENGTH)
            return tp_err_set(TP_ERR_TRUNCATED, "group entry %u var data is cut off", it->index);
        uint32_t n = tp_sbe_get_u32(it->buf + pos);
        if (it->len - pos - TP_SBE_VAR_HEADER_LENGTH < n)
            return tp_err_set(TP_ERR_TRUNCATED, "group entry %u var data is cut off", it->index);
        pos += TP_SBE_VAR_HEADER_LENGTH + n;
    }
    it->entry = it->next;
    it->next = pos;
    it->index++;
    return 1;
}

/* ---- encoding ---- */

static int enc_fail(tp_sbe_enc_t *e, tp_errcode_t code, const char *what)
{
    if (!e->failed)
        tp_err_set(code, "%s: %s", e->layout != NULL ? e->layout->name : "encoder", what);
    e->failed = true;
    return -1;
}

static int enc_put_var(tp_sbe_enc_t *e, const void *data, size_t len)
{
    if (len > TP_SBE_VAR_MAX)
        return enc_fail(e, TP_ERR_INVALID_ARG, "var data longer than maxValue 2^30");
    if (e->cap - e->pos < TP_SBE_VAR_HEADER_LENGTH + len)
        return enc_fail(e, TP_ERR_CAPACITY, "buffer too small for var data");
    tp_sbe_put_u32(e->buf + e->pos, (uint32_t)len);
    if (len > 0)
        memcpy(e->buf + e->pos + TP_SBE_VAR_HEADER_LENGTH, data, len);
    e->pos += TP_SBE_VAR_HEADER_LENGTH + len;
    return 0;
}

/* Write the current nested entry's var data sub_var..upto-1 empty. */
static int enc_sub_finish(tp_sbe_enc_t *e, uint8_t upto)
{
    if (!e->sub_entry_ok)
        return 0;
    while (e->sub_var < upto) {
        if (enc_put_var(e, NULL, 0) < 0)
            return -1;
        e->sub_var++;
    }
    return 0;
}

/* Start a new entry of a group of `count` (*written so far): zero its
 * block_length-byte fixed part at pos; *entry = its offset. */
static int enc_entry_start(tp_sbe_enc_t *e, uint16_t block_length, uint16_t *written, uint16_t count, size_t *entry)
{
    if (*written >= count)
        return enc_fail(e, TP_ERR_STATE, "more group entries than the count given");
    if (e->cap - e->pos < block_length)
        return enc_fail(e, TP_ERR_CAPACITY, "buffer too small for group entry");
    memset(e->buf + e->pos, 0, block_length);
    *entry = e->pos;
    e->pos += block_length;
    (*written)++;
    return 0;
}

/* Close the nested group open in the current entry: its last entry's
 * remaining var data empty, and its count met. */
static int enc_close_sub(tp_sbe_enc_t *e)
{
    if (e->sub_step < 0)
        return 0;
    const tp_sbe_step_t *s = &e->layout->steps[e->group_step].sub[e->sub_step];
    if (enc_sub_finish(e, s->entry_nvars) < 0)
        return -1;
    e->sub_step = -1;
    e->sub_entry_ok = false;
    if (e->sub_written != e->sub_count)
        return enc_fail(e, TP_ERR_STATE, "nested group holds fewer entries than its count");
    return 0;
}

/* Write the current entry's children entry_var..upto-1 empty (var data of
 * length 0, nested groups of no entries). */
static int enc_finish_entry(tp_sbe_enc_t *e, uint8_t upto)
{
    if (!e->entry_ok)
        return 0;
    if (enc_close_sub(e) < 0)
        return -1;
    const tp_sbe_step_t *g = &e->layout->steps[e->group_step];
    while (e->entry_var < upto) {
        if (g->sub != NULL && g->sub[e->entry_var].kind == TP_SBE_STEP_GROUP) {
            if (e->cap - e->pos < TP_SBE_GROUP_HEADER_LENGTH)
                return enc_fail(e, TP_ERR_CAPACITY, "buffer too small for group header");
            tp_sbe_put_u16(e->buf + e->pos, g->sub[e->entry_var].entry_block_length);
            tp_sbe_put_u16(e->buf + e->pos + 2, 0);
            e->pos += TP_SBE_GROUP_HEADER_LENGTH;
        } else if (enc_put_var(e, NULL, 0) < 0) {
            return -1;
        }
        e->entry_var++;
    }
    return 0;
}

static int enc_close_group(tp_sbe_enc_t *e)
{
    if (e->group_step < 0)
        return 0;
    const tp_sbe_step_t *s = &e->layout->steps[e->group_step];
    if (enc_finish_entry(e, entry_children(s)) < 0)
        return -1;
    e->group_step = -1;
    e->entry_ok = false;
    if (e->group_written != e->group_count)
        return enc_fail(e, TP_ERR_STATE, "group holds fewer entries than its count");
    return 0;
}

/* Close the open group and write every step before `target` empty. */
static int enc_skip_to(tp_sbe_enc_t *e, uint8_t target)
{
    if (!e->root_ok)
        return enc_fail(e, TP_ERR_STATE, "encoder not begun");
    if (enc_close_group(e) < 0)
        return -1;
    if (target < e->step)
        return enc_fail(e, TP_ERR_STATE, "field written out of schema order");
    while (e->step < target) {
        const tp_sbe_step_t *s = &e->layout->steps[e->step];
        if (s->kind == TP_SBE_STEP_GROUP) {
            if (e->cap - e->pos < TP_SBE_GROUP_HEADER_LENGTH)
                return enc_fail(e, TP_ERR_CAPACITY, "buffer too small for group header");
            tp_sbe_put_u16(e->buf + e->pos, s->entry_block_length);
            tp_sbe_put_u16(e->buf + e->pos + 2, 0);
            e->pos += TP_SBE_GROUP_HEADER_LENGTH;
        } else if (enc_put_var(e, NULL, 0) < 0) {
            return -1;
        }
        e->step++;
    }
    return 0;
}

int tp_sbe_enc_begin(tp_sbe_enc_t *e, const tp_sbe_layout_t *L, void *buf, size_t cap, bool headerless)
{
    memset(e, 0, sizeof *e);
    e->layout = L;
    e->group_step = -1;
    e->sub_step = -1;
    size_t root = headerless ? 0 : TP_SBE_HEADER_LENGTH;
    if (buf == NULL || cap < root + L->block_length) {
        e->failed = true;
        return tp_err_set(TP_ERR_CAPACITY, "%s: buffer of %zu bytes is smaller than the %zu-byte fixed part",
                          L->name, buf == NULL ? (size_t)0 : cap, root + L->block_length);
    }
    e->buf = buf;
    e->cap = cap;
    e->root = root;
    if (!headerless) {
        tp_sbe_put_u16(e->buf, L->block_length);
        tp_sbe_put_u16(e->buf + 2, L->template_id);
        tp_sbe_put_u16(e->buf + 4, L->schema_id);
        tp_sbe_put_u16(e->buf + 6, L->version);
    }
    memset(e->buf + root, 0, L->block_length);
    e->pos = root + L->block_length;
    e->root_ok = true;
    return 0;
}

int tp_sbe_enc_group_begin(tp_sbe_enc_t *e, uint8_t step, uint16_t count)
{
    if (step >= e->layout->nsteps || e->layout->steps[step].kind != TP_SBE_STEP_GROUP)
        return enc_fail(e, TP_ERR_INVALID_ARG, "no such group");
    if (enc_skip_to(e, step) < 0)
        return -1;
    const tp_sbe_step_t *s = &e->layout->steps[step];
    if (e->cap - e->pos < TP_SBE_GROUP_HEADER_LENGTH)
        return enc_fail(e, TP_ERR_CAPACITY, "buffer too small for group header");
    tp_sbe_put_u16(e->buf + e->pos, s->entry_block_length);
    tp_sbe_put_u16(e->buf + e->pos + 2, count);
    e->pos += TP_SBE_GROUP_HEADER_LENGTH;
    e->step = (uint8_t)(step + 1);
    e->group_step = (int8_t)step;
    e->group_count = count;
    e->group_written = 0;
    e->entry_ok = false;
    return 0;
}

int tp_sbe_enc_group_next(tp_sbe_enc_t *e)
{
    if (e->group_step < 0)
        return enc_fail(e, TP_ERR_STATE, "group entry without an open group");
    const tp_sbe_step_t *s = &e->layout->steps[e->group_step];
    if (enc_finish_entry(e, entry_children(s)) < 0)
        return -1;
    e->entry_ok = false;
    if (enc_entry_start(e, s->entry_block_length, &e->group_written, e->group_count, &e->entry) < 0)
        return -1;
    e->entry_ok = true;
    e->entry_var = 0;
    return 0;
}

int tp_sbe_enc_entry_var(tp_sbe_enc_t *e, uint8_t var, const void *data, size_t len)
{
    if (!e->entry_ok || e->group_step < 0)
        return enc_fail(e, TP_ERR_STATE, "entry var data without a current entry");
    const tp_sbe_step_t *g = &e->layout->steps[e->group_step];
    if (var < e->entry_var || var >= entry_children(g) || child_is_group(g, var))
        return enc_fail(e, TP_ERR_STATE, "entry var data written out of schema order");
    if (enc_finish_entry(e, var) < 0 || enc_put_var(e, data, len) < 0)
        return -1;
    e->entry_var = (uint8_t)(var + 1);
    return 0;
}

int tp_sbe_enc_sub_group_begin(tp_sbe_enc_t *e, uint8_t child, uint16_t count)
{
    if (!e->entry_ok || e->group_step < 0)
        return enc_fail(e, TP_ERR_STATE, "nested group without a current entry");
    const tp_sbe_step_t *g = &e->layout->steps[e->group_step];
    if (child < e->entry_var || child >= entry_children(g) || !child_is_group(g, child))
        return enc_fail(e, TP_ERR_STATE, "nested group written out of schema order");
    if (enc_finish_entry(e, child) < 0)
        return -1;
    if (e->cap - e->pos < TP_SBE_GROUP_HEADER_LENGTH)
        return enc_fail(e, TP_ERR_CAPACITY, "buffer too small for group header");
    tp_sbe_put_u16(e->buf + e->pos, g->sub[child].entry_block_length);
    tp_sbe_put_u16(e->buf + e->pos + 2, count);
    e->pos += TP_SBE_GROUP_HEADER_LENGTH;
    e->entry_var = (uint8_t)(child + 1);
    e->sub_step = (int8_t)child;
    e->sub_count = count;
    e->sub_written = 0;
    e->sub_entry_ok = false;
    return 0;
}

int tp_sbe_enc_sub_group_next(tp_sbe_enc_t *e)
{
    if (e->sub_step < 0)
        return enc_fail(e, TP_ERR_STATE, "nested group entry without an open nested group");
    const tp_sbe_step_t *s = &e->layout->steps[e->group_step].sub[e->sub_step];
    if (enc_sub_finish(e, s->entry_nvars) < 0)
        return -1;
    e->sub_entry_ok = false;
    if (enc_entry_start(e, s->entry_block_length, &e->sub_written, e->sub_count, &e->sub_entry) < 0)
        return -1;
    e->sub_entry_ok = true;
    e->sub_var = 0;
    return 0;
}

int tp_sbe_enc_sub_entry_var(tp_sbe_enc_t *e, uint8_t var, const void *data, size_t len)
{
    if (!e->sub_entry_ok || e->sub_step < 0)
        return enc_fail(e, TP_ERR_STATE, "nested entry var data without a current nested entry");
    const tp_sbe_step_t *s = &e->layout->steps[e->group_step].sub[e->sub_step];
    if (var < e->sub_var || var >= s->entry_nvars)
        return enc_fail(e, TP_ERR_STATE, "nested entry var data written out of schema order");
    if (enc_sub_finish(e, var) < 0 || enc_put_var(e, data, len) < 0)
        return -1;
    e->sub_var = (uint8_t)(var + 1);
    return 0;
}

int tp_sbe_enc_var(tp_sbe_enc_t *e, uint8_t step, const void *data, size_t len)
{
    if (step >= e->layout->nsteps || e->layout->steps[step].kind != TP_SBE_STEP_VAR)
        return enc_fail(e, TP_ERR_INVALID_ARG, "no such var data field");
    if (enc_skip_to(e, step) < 0 || enc_put_var(e, data, len) < 0)
        return -1;
    e->step = (uint8_t)(step + 1);
    return 0;
}

long tp_sbe_enc_end(tp_sbe_enc_t *e)
{
    if (e->layout == NULL)
        return tp_err_set(TP_ERR_STATE, "encoder not begun");
    if (!e->failed)
        enc_skip_to(e, e->layout->nsteps);
    if (e->failed)
        return -1;
    return (long)e->pos;
}
