/* SBE runtime shared by the generated codecs (tools/sbe_codegen.py).
 *
 * Byte access: every multi-byte field is little-endian and may be unaligned,
 * so loads and stores go through memcpy (which compilers turn into a single
 * move on x86) and never through cast pointers.
 *
 * Decoding: tp_sbe_dec_wrap() checks the header, the root block and walks every
 * group entry and var-data field against the buffer once; afterwards the
 * generated getters read at offsets proven in bounds. Encoding: tp_sbe_enc_*
 * keep the schema's order (groups, then var data) and never write past the
 * caller's buffer; a failed step makes tp_sbe_enc_end() fail.
 */
#ifndef TENSORPOOL_CODEC_SBE_H
#define TENSORPOOL_CODEC_SBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensorpool/error.h"

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tensorpool codecs assume a little-endian host"
#endif

enum {
    TP_SBE_HEADER_LENGTH = 8,      /* messageHeader: blockLength, templateId, schemaId, version */
    TP_SBE_GROUP_HEADER_LENGTH = 4, /* groupSizeEncoding: blockLength, numInGroup */
    TP_SBE_VAR_HEADER_LENGTH = 4,   /* u32 length prefix of var data */
    TP_SBE_MAX_ENTRY_VARS = 8,      /* var-data fields and nested groups per group entry the runtime tracks */
    TP_SBE_MAX_STEPS = 8            /* groups + var-data fields per message */
};

/* ---- little-endian unaligned access ---- */
#define TP_SBE_ACCESSORS(name, type)                                             \
    static inline type tp_sbe_get_##name(const uint8_t *p)                       \
    {                                                                            \
        type v;                                                                  \
        memcpy(&v, p, sizeof v);                                                 \
        return v;                                                                \
    }                                                                            \
    static inline void tp_sbe_put_##name(uint8_t *p, type v) { memcpy(p, &v, sizeof v); }
TP_SBE_ACCESSORS(u8, uint8_t)
TP_SBE_ACCESSORS(i8, int8_t)
TP_SBE_ACCESSORS(u16, uint16_t)
TP_SBE_ACCESSORS(i16, int16_t)
TP_SBE_ACCESSORS(u32, uint32_t)
TP_SBE_ACCESSORS(i32, int32_t)
TP_SBE_ACCESSORS(u64, uint64_t)
TP_SBE_ACCESSORS(i64, int64_t)
#undef TP_SBE_ACCESSORS

/* ---- message header ---- */
typedef struct tp_sbe_header_s {
    uint16_t block_length;
    uint16_t template_id;
    uint16_t schema_id;
    uint16_t version;
} tp_sbe_header_t;

/* Read the 8-byte message header; -1 (TP_ERR_TRUNCATED) if len < 8. */
TP_INTERNAL int tp_sbe_header_read(const void *buf, size_t len, tp_sbe_header_t *out);

/* ---- static description of one message, emitted by the generator ---- */
typedef enum tp_sbe_step_kind_e { TP_SBE_STEP_GROUP = 1, TP_SBE_STEP_VAR = 2 } tp_sbe_step_kind_t;

typedef struct tp_sbe_step_s {
    const char *name;
    uint8_t kind;                  /* tp_sbe_step_kind_t */
    uint16_t entry_block_length;   /* GROUP: the schema's entry size */
    uint8_t entry_nvars;           /* GROUP: var-data fields per entry */
    uint32_t max_length;           /* VAR: schema maxValue of the length */
    /* GROUP: enum checks of one entry's fixed part (NULL when none); returns
     * 0 or -1 with the error set. */
    int (*validate_entry)(const uint8_t *entry, uint16_t index);
    /* GROUP with nested groups: what follows an entry's fixed part, in
     * schema order (nested groups, then var data); NULL when the entry ends
     * with entry_nvars var-data fields only. Nesting is one level deep. */
    const struct tp_sbe_step_s *sub;
    uint8_t nsub;
} tp_sbe_step_t;

typedef enum tp_sbe_policy_e {
    /* Schemas 900/901 (docs/spec/wire.md D-16, docs/spec/driver.md 4.5): root and group
     * blockLength must equal the schema's; enums are checked on decode. */
    TP_SBE_POLICY_STRICT = 0,
    /* Schema 903 (docs/spec/join-barrier.md 4.7): larger blockLengths are accepted and
     * skipped; enum values are handed on raw for semantic validation. */
    TP_SBE_POLICY_LENIENT = 1
} tp_sbe_policy_t;

typedef struct tp_sbe_layout_s {
    const char *name;
    uint16_t schema_id;
    uint16_t template_id;
    uint16_t version;
    uint16_t block_length;
    uint8_t policy;                /* tp_sbe_policy_t */
    uint8_t nsteps;
    const tp_sbe_step_t *steps;    /* groups first, then var data, in schema order */
    int (*validate_root)(const uint8_t *root); /* enum checks; NULL when none */
} tp_sbe_layout_t;

/* ---- decoding ---- */
typedef struct tp_sbe_dec_s {
    const uint8_t *buf;
    size_t len;
    size_t root;           /* offset of the root block: 8, or 0 when headerless */
    size_t end;            /* offset one past the message's last byte */
    uint16_t block_length; /* acting root blockLength (from the header) */
    uint16_t version;
} tp_sbe_dec_t;

/* Validate a message against its layout and record the offset of every step
 * (group header or var-data length prefix) in step_off[layout->nsteps].
 * headerless: the buffer starts at the root block (SHM structures). */
TP_INTERNAL int tp_sbe_dec_wrap(const tp_sbe_layout_t *layout, tp_sbe_dec_t *d, size_t *step_off,
                                const void *buf, size_t len, bool headerless);

/* A message with no groups, var data or enums to check, whose header is
 * exactly the one this build writes (the common case on the hot path: the
 * same build on both sides): the whole of tp_sbe_dec_wrap's check is this one
 * compare and a length. 1 when it decoded; 0 leaves the full check to
 * tp_sbe_dec_wrap, which also explains a refusal. */
static inline int tp_sbe_dec_fixed(tp_sbe_dec_t *d, const void *buf, size_t len, uint16_t schema_id,
                                   uint16_t template_id, uint16_t version, uint16_t block_length)
{
    const uint8_t *b = (const uint8_t *)buf;
    if (b == NULL || len < (size_t)TP_SBE_HEADER_LENGTH + block_length) return 0;
    const uint64_t header = (uint64_t)block_length | (uint64_t)template_id << 16 | (uint64_t)schema_id << 32 |
                            (uint64_t)version << 48;
    if (tp_sbe_get_u64(b) != header) return 0;
    d->buf = b;
    d->len = len;
    d->root = TP_SBE_HEADER_LENGTH;
    d->end = (size_t)TP_SBE_HEADER_LENGTH + block_length;
    d->block_length = block_length;
    d->version = version;
    return 1;
}

/* A view of the fixed root block only, for structures whose values the
 * caller validates itself (SHM slots and superblocks, where a torn or hostile
 * value must be read and classified, not refused): checks only that the root
 * block fits. The header, enums, groups and var data are NOT checked, and
 * groups and var data must not be read through a view. */
TP_INTERNAL int tp_sbe_dec_view(const tp_sbe_layout_t *layout, tp_sbe_dec_t *d, const void *buf, size_t len,
                                bool headerless);

typedef struct tp_sbe_group_iter_s {
    const uint8_t *buf;
    size_t len;
    size_t next;           /* offset of the next entry */
    size_t entry;          /* offset of the current entry's fixed part */
    uint16_t block_length; /* acting entry size */
    uint16_t count;
    uint16_t index;        /* entries consumed so far */
    uint8_t nvars;         /* children after the fixed part: var data, or (sub) nested groups and var data */
    const tp_sbe_step_t *sub;
    size_t var_off[TP_SBE_MAX_ENTRY_VARS]; /* offset of each child of the current entry */
} tp_sbe_group_iter_t;

/* Start iterating the group whose header is at offset group_off. */
TP_INTERNAL void tp_sbe_group_iter_init(tp_sbe_group_iter_t *it, const tp_sbe_dec_t *d, size_t group_off,
                                        uint8_t nvars);
/* Start iterating the group `step` whose header is at offset group_off of
 * buf (a top-level group, or a nested one at an entry's var_off[child]). */
TP_INTERNAL void tp_sbe_group_iter_init_at(tp_sbe_group_iter_t *it, const uint8_t *buf, size_t len, size_t group_off,
                                           const tp_sbe_step_t *step);
/* Advance to the next entry: 1 when positioned on it, 0 at the end, -1 on a
 * malformed entry (impossible after a successful wrap, checked regardless). */
TP_INTERNAL int tp_sbe_group_iter_next(tp_sbe_group_iter_t *it);

static inline const uint8_t *tp_sbe_var_at(const uint8_t *buf, size_t off, uint32_t *len)
{
    *len = tp_sbe_get_u32(buf + off);
    return buf + off + TP_SBE_VAR_HEADER_LENGTH;
}

/* ---- encoding ---- */
typedef struct tp_sbe_enc_s {
    const tp_sbe_layout_t *layout;
    uint8_t *buf;
    size_t cap;
    size_t root;
    size_t pos;            /* next byte to write after the root block */
    uint8_t step;          /* next top-level step to write */
    bool root_ok;          /* root block is inside buf */
    bool failed;           /* a step failed: end() reports failure */
    /* the open group */
    int8_t group_step;     /* -1 when no group is open */
    uint16_t group_count;
    uint16_t group_written;
    size_t entry;          /* offset of the current entry */
    bool entry_ok;
    uint8_t entry_var;     /* next child (var data, or nested group) of the current entry */
    /* a group open inside the current entry (nested groups) */
    int8_t sub_step;       /* child index of the open nested group, -1 when none */
    uint16_t sub_count;
    uint16_t sub_written;
    size_t sub_entry;      /* offset of its current entry */
    bool sub_entry_ok;
    uint8_t sub_var;       /* next var-data field of its current entry */
} tp_sbe_enc_t;

/* Write the header (unless headerless) and a zeroed root block. */
TP_INTERNAL int tp_sbe_enc_begin(tp_sbe_enc_t *e, const tp_sbe_layout_t *layout, void *buf, size_t cap,
                                 bool headerless);
/* Open group `step` with `count` entries (earlier skipped steps are written
 * empty). */
TP_INTERNAL int tp_sbe_enc_group_begin(tp_sbe_enc_t *e, uint8_t step, uint16_t count);
/* Start the next entry of the open group: its fixed part is zeroed. */
TP_INTERNAL int tp_sbe_enc_group_next(tp_sbe_enc_t *e);
/* Write var-data field `var` of the current entry. */
TP_INTERNAL int tp_sbe_enc_entry_var(tp_sbe_enc_t *e, uint8_t var, const void *data, size_t len);
/* Nested groups: open child `child` (a group) of the current entry with
 * `count` entries, start its next entry, write var data `var` of that entry.
 * For an entry with nested groups, tp_sbe_enc_entry_var's `var` is the
 * child index too. */
TP_INTERNAL int tp_sbe_enc_sub_group_begin(tp_sbe_enc_t *e, uint8_t child, uint16_t count);
TP_INTERNAL int tp_sbe_enc_sub_group_next(tp_sbe_enc_t *e);
TP_INTERNAL int tp_sbe_enc_sub_entry_var(tp_sbe_enc_t *e, uint8_t var, const void *data, size_t len);
/* Write top-level var-data field `step`. */
TP_INTERNAL int tp_sbe_enc_var(tp_sbe_enc_t *e, uint8_t step, const void *data, size_t len);
/* Finish: remaining steps are written empty. Returns the message length, or
 * -1 if any step failed or a group holds fewer entries than announced. */
TP_INTERNAL long tp_sbe_enc_end(tp_sbe_enc_t *e);

static inline uint8_t *tp_sbe_enc_root(tp_sbe_enc_t *e) { return e->buf + e->root; }

#ifdef __cplusplus
}
#endif
#endif
