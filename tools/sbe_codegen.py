#!/usr/bin/env python3
"""tensorpool SBE codec generator (Python 3 standard library only).

Reads the SBE XML schemas in schemas/ and writes C flyweight codecs:

  include/tensorpool/codec/<name>.h   enums, layouts, inline getters/setters
  src/codec/<name>_codec.c            enum names, validation, JSON printers,
                                      re-encoders and the schema's message table

Decoding is table-driven by tp_sbe_dec_wrap() (src/codec/sbe.c): the generated
layout tells it the root block length, the groups and the var-data fields; the
generated validate functions check enum fields. Getters then read offsets the
walk proved in bounds.

Header functions are static inline, except the enum name tables, JSON printers
and re-encoders; those and the extern layouts/schema tables carry TP_INTERNAL
(tensorpool/export.h): the wire codecs are a layer of the library, linked by
the tp tool and the tests from the static library, not exported from the
shared one.

Usage:
  tools/sbe_codegen.py            regenerate every codec in place
  tools/sbe_codegen.py --check    exit 1 if any committed file differs
"""

import argparse
import difflib
import os
import re
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Per-schema settings that the SBE XML cannot express.
SCHEMAS = [
    {
        "xml": "schemas/control.xml",
        "name": "control",
        "policy": "STRICT",  # docs/spec/wire.md D-16
        "headerless": {"ShmRegionSuperblock", "SlotHeader"},  # docs/spec/wire.md 3.2, 3.3
        # var data that holds a complete SBE message of its own (docs/spec/wire.md 3.3)
        "embedded": {("SlotHeader", "headerBytes")},
    },
    {
        "xml": "schemas/driver.xml",
        "name": "driver",
        "policy": "STRICT",  # docs/spec/driver.md 4.5
        "headerless": set(),
        "embedded": set(),
    },
    {
        "xml": "schemas/bridge.xml",
        "name": "bridge",
        "policy": "STRICT",  # docs/spec/bridge.md B-30
        "headerless": set(),
        "embedded": set(),
    },
    {
        "xml": "schemas/merge.xml",
        "name": "merge",
        "policy": "LENIENT",  # docs/spec/join-barrier.md 4.7 D5, D7, D11
        "headerless": set(),
        "embedded": set(),
    },
    {
        "xml": "schemas/tracelink.xml",
        "name": "tracelink",
        "policy": "STRICT",  # docs/spec/tracelink.md TL-D2
        "headerless": set(),
        "embedded": set(),
    },
    {
        "xml": "schemas/discovery.xml",
        "name": "discovery",
        "policy": "STRICT",  # docs/spec/discovery.md DS-D1
        "headerless": set(),
        "embedded": set(),
    },
]

PRIMITIVES = {
    # name: (size, C type, accessor suffix, signed, default null)
    "char": (1, "char", "u8", False, 0),
    "uint8": (1, "uint8_t", "u8", False, 0xFF),
    "int8": (1, "int8_t", "i8", True, -0x80),
    "uint16": (2, "uint16_t", "u16", False, 0xFFFF),
    "int16": (2, "int16_t", "i16", True, -0x8000),
    "uint32": (4, "uint32_t", "u32", False, 0xFFFFFFFF),
    "int32": (4, "int32_t", "i32", True, -0x80000000),
    "uint64": (8, "uint64_t", "u64", False, 0xFFFFFFFFFFFFFFFF),
    "int64": (8, "int64_t", "i64", True, -0x8000000000000000),
}


class SchemaError(Exception):
    pass


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.lower()


def c_int(value, prim):
    """A C literal for value as a primitive of type prim."""
    size, ctype, _, signed, _ = PRIMITIVES[prim]
    bits = size * 8
    if signed:
        if value == -(1 << (bits - 1)):
            return "INT%d_MIN" % bits
        return "INT64_C(%d)" % value
    return "UINT64_C(0x%X)" % value


def parse_int(text, where):
    try:
        return int(text.strip(), 0)
    except (ValueError, AttributeError):
        raise SchemaError("%s: '%s' is not an integer" % (where, text))


# ---------------------------------------------------------------------------
# Schema model


class Enum:
    def __init__(self, name, prim, values):
        self.name = name
        self.prim = prim
        self.values = values  # list of (name, int)
        self.null = PRIMITIVES[prim][4]


class Field:
    """A fixed field: primitive, array, enum or constant."""

    def __init__(self, name, fid, prim, offset, length=1, enum=None, optional=False,
                 null=None, constant=None):
        self.name = name
        self.id = fid
        self.prim = prim
        self.offset = offset
        self.length = length
        self.enum = enum
        self.optional = optional
        self.null = null
        self.constant = constant

    @property
    def size(self):
        return 0 if self.constant is not None else PRIMITIVES[self.prim][0] * self.length


class Data:
    def __init__(self, name, fid, ascii_text, max_length):
        self.name = name
        self.id = fid
        self.ascii = ascii_text
        self.max_length = max_length


class Group:
    def __init__(self, name, fid, block_length, fields, datas, groups=()):
        self.name = name
        self.id = fid
        self.block_length = block_length
        self.fields = fields
        self.datas = datas
        self.groups = list(groups)  # nested groups (one level), before the datas on the wire

    @property
    def children(self):
        return [("group", g) for g in self.groups] + [("data", d) for d in self.datas]


class Message:
    def __init__(self, name, tid, block_length, fields, groups, datas):
        self.name = name
        self.id = tid
        self.block_length = block_length
        self.fields = fields
        self.groups = groups
        self.datas = datas

    @property
    def steps(self):
        return [("group", g) for g in self.groups] + [("data", d) for d in self.datas]


class Schema:
    def __init__(self, cfg):
        self.cfg = cfg
        self.name = cfg["name"]
        path = os.path.join(ROOT, cfg["xml"])
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            raise SchemaError("%s: %s" % (cfg["xml"], e))
        self.id = parse_int(root.get("id"), "schema id")
        self.version = parse_int(root.get("version"), "schema version")
        self.package = root.get("package")
        if root.get("byteOrder", "littleEndian") != "littleEndian":
            raise SchemaError("only littleEndian schemas are supported")
        self.types = {}
        self.enums = {}
        self.composites = {}
        for types in root.findall("types"):
            for t in types:
                self._parse_type(t)
        self.messages = []
        for m in root:
            if m.tag.endswith("message"):
                self.messages.append(self._parse_message(m))
        ids = [m.id for m in self.messages]
        if len(ids) != len(set(ids)):
            raise SchemaError("%s: duplicate template id" % cfg["xml"])

    def _parse_type(self, t):
        name = t.get("name")
        if t.tag == "type":
            prim = t.get("primitiveType")
            if prim not in PRIMITIVES:
                raise SchemaError("type %s: unsupported primitiveType %s" % (name, prim))
            self.types[name] = {
                "prim": prim,
                "length": parse_int(t.get("length", "1"), name),
                "presence": t.get("presence", "required"),
                "null": t.get("nullValue"),
                "const": (t.text or "").strip() if t.get("presence") == "constant" else None,
            }
        elif t.tag == "enum":
            prim = t.get("encodingType")
            if prim not in PRIMITIVES:
                raise SchemaError("enum %s: unsupported encodingType %s" % (name, prim))
            values = [(v.get("name"), parse_int(v.text, name)) for v in t.findall("validValue")]
            self.enums[name] = Enum(name, prim, values)
        elif t.tag == "composite":
            parts = [(c.get("name"), c.get("primitiveType"), c.get("maxValue"), c.get("characterEncoding"))
                     for c in t]
            self.composites[name] = parts
        else:
            raise SchemaError("unsupported type element <%s>" % t.tag)

    def _parse_fields(self, elem, owner):
        fields, groups, datas = [], [], []
        offset = 0
        for f in elem:
            tag = f.tag.split("}")[-1]
            name = f.get("name")
            fid = parse_int(f.get("id"), "%s.%s id" % (owner, name))
            if tag == "field":
                if groups or datas:
                    raise SchemaError("%s.%s: fixed field after a group or var data" % (owner, name))
                field = self._make_field(f, name, fid, offset, owner)
                fields.append(field)
                offset += field.size
            elif tag == "group":
                if datas:
                    raise SchemaError("%s.%s: group after var data" % (owner, name))
                if f.get("dimensionType", "groupSizeEncoding") != "groupSizeEncoding":
                    raise SchemaError("%s.%s: only groupSizeEncoding dimensions" % (owner, name))
                gfields, ggroups, gdatas = self._parse_fields(f, owner + "." + name)
                if any(g.groups for g in ggroups) or (ggroups and "." in owner):
                    raise SchemaError("%s.%s: groups nest one level deep at most" % (owner, name))
                if len(gdatas) + len(ggroups) > 8:
                    raise SchemaError("%s.%s: at most 8 nested groups and var-data fields per entry" % (owner, name))
                if not ggroups and len(gdatas) > 4:
                    raise SchemaError("%s.%s: at most 4 var-data fields per entry" % (owner, name))
                bl = parse_int(f.get("blockLength"), name)
                computed = sum(x.size for x in gfields)
                if bl != computed:
                    raise SchemaError("%s.%s: blockLength %d but fields take %d" % (owner, name, bl, computed))
                groups.append(Group(name, fid, bl, gfields, gdatas, ggroups))
            elif tag == "data":
                comp = self.composites.get(f.get("type"))
                if comp is None:
                    raise SchemaError("%s.%s: unknown var data type %s" % (owner, name, f.get("type")))
                length = [c for c in comp if c[0] == "length"]
                var = [c for c in comp if c[0] == "varData"]
                if not length or length[0][1] != "uint32" or not var:
                    raise SchemaError("%s.%s: var data needs a uint32 length" % (owner, name))
                maxv = parse_int(length[0][2], name) if length[0][2] else 1 << 30
                datas.append(Data(name, fid, var[0][3] is not None, maxv))
            else:
                raise SchemaError("%s: unsupported element <%s>" % (owner, tag))
        return fields, groups, datas

    def _make_field(self, f, name, fid, offset, owner):
        tname = f.get("type")
        optional = f.get("presence") == "optional"
        null_attr = f.get("nullValue")
        if tname in PRIMITIVES:
            prim, length, const = tname, 1, None
        elif tname in self.enums:
            e = self.enums[tname]
            null = e.null if optional else None
            return Field(name, fid, e.prim, offset, enum=e, optional=optional, null=null)
        elif tname in self.types:
            t = self.types[tname]
            prim, length = t["prim"], t["length"]
            const = t["const"]
            optional = optional or t["presence"] == "optional"
            null_attr = null_attr or t["null"]
        else:
            raise SchemaError("%s.%s: unknown type %s" % (owner, name, tname))
        if const is not None:
            return Field(name, fid, prim, offset, constant=parse_int(const, name))
        null = None
        if optional:
            if length != 1:
                raise SchemaError("%s.%s: optional arrays are not supported" % (owner, name))
            null = parse_int(null_attr, name) if null_attr is not None else PRIMITIVES[prim][4]
        return Field(name, fid, prim, offset, length=length, optional=optional, null=null)

    def _parse_message(self, m):
        name = m.get("name")
        fields, groups, datas = self._parse_fields(m, name)
        bl = parse_int(m.get("blockLength"), name)
        computed = sum(f.size for f in fields)
        if bl != computed:
            raise SchemaError("%s: blockLength %d but fields take %d" % (name, bl, computed))
        if len(groups) + len(datas) > 8:
            raise SchemaError("%s: at most 8 groups and var-data fields" % name)
        return Message(name, parse_int(m.get("id"), name), bl, fields, groups, datas)


# ---------------------------------------------------------------------------
# C emission


class Emitter:
    def __init__(self, schema):
        self.s = schema
        self.p = "tp_" + schema.name
        self.P = self.p.upper()
        self.strict = schema.cfg["policy"] == "STRICT"

    def fixed_check(self, m):
        """Whether a message's whole decode check is its header and length:
        no groups or var data, and no enum the strict policy checks."""
        return not m.steps and not (self.strict and any(f.enum is not None for f in m.fields))

    def mp(self, m):
        return "%s_%s" % (self.p, snake(m.name))

    def MP(self, m):
        return self.mp(m).upper()

    # ---- header -----------------------------------------------------------
    def header(self):
        s, p, P = self.s, self.p, self.P
        out = []
        w = out.append
        guard = "TENSORPOOL_CODEC_%s_H" % s.name.upper()
        w("/* GENERATED by tools/sbe_codegen.py from %s -- do not edit. */" % s.cfg["xml"])
        w("/* SBE schema %d version %d, package %s. */" % (s.id, s.version, s.package))
        w("#ifndef %s" % guard)
        w("#define %s" % guard)
        w("")
        w('#include "tensorpool/codec/registry.h"')
        w('#include "tensorpool/codec/sbe.h"')
        w('#include "tensorpool/export.h"')
        w("")
        w("#ifdef __cplusplus")
        w('extern "C" {')
        w("#endif")
        w("")
        w("#define %s_SCHEMA_ID %d" % (P, s.id))
        w("#define %s_SCHEMA_VERSION %d" % (P, s.version))
        w("")
        w("/* The schema's messages, for tp_codec_find() and tools. */")
        w("TP_INTERNAL extern const tp_codec_schema_t %s_schema;" % p)
        w("")
        for e in s.enums.values():
            en = "%s_%s" % (p, snake(e.name))
            EN = en.upper()
            w("/* enum %s (%s) */" % (e.name, e.prim))
            w("typedef enum %s_e {" % en)
            for vn, vv in e.values:
                w("    %s_%s = %d," % (EN, vn, vv))
            w("} %s_t;" % en)
            w("#define %s_NULL_VALUE %s" % (EN, c_int(e.null, e.prim)))
            w("static inline bool %s_is_valid(int64_t v)" % en)
            w("{")
            w("    switch (v) {")
            for _, vv in e.values:
                w("    case %d:" % vv)
            w("        return true;")
            w("    default:")
            w("        return false;")
            w("    }")
            w("}")
            w("/* Name of a valid value, NULL otherwise. */")
            w("TP_INTERNAL const char *%s_name(int64_t v);" % en)
            w("")
        for m in s.messages:
            out.extend(self.message_header(m))
        w("#ifdef __cplusplus")
        w("}")
        w("#endif")
        w("#endif")
        return "\n".join(out) + "\n"

    def field_getters(self, owner_type, prefix, base, fields, w):
        for f in fields:
            ctype = PRIMITIVES[f.prim][1]
            acc = PRIMITIVES[f.prim][2]
            fn = "%s_%s" % (prefix, snake(f.name))
            FN = fn.upper()
            if f.constant is not None:
                w("#define %s_VALUE %d" % (FN, f.constant))
                w("static inline %s %s(const %s *m) { (void)m; return %d; }" % (ctype, fn, owner_type, f.constant))
                continue
            if f.length > 1:
                w("#define %s_LENGTH %d" % (FN, f.length))
                w("static inline %s %s(const %s *m, size_t i)" % (ctype, fn, owner_type))
                w("{")
                w("    return i < %d ? (%s)tp_sbe_get_%s(%s + %d + i * %d) : 0;"
                  % (f.length, ctype, acc, base, f.offset, PRIMITIVES[f.prim][0]))
                w("}")
                if PRIMITIVES[f.prim][0] == 1:
                    w("static inline const uint8_t *%s_bytes(const %s *m) { return %s + %d; }"
                      % (fn, owner_type, base, f.offset))
                continue
            w("static inline %s %s(const %s *m) { return (%s)tp_sbe_get_%s(%s + %d); }"
              % (ctype, fn, owner_type, ctype, acc, base, f.offset))
            if f.optional:
                w("#define %s_NULL_VALUE %s" % (FN, c_int(f.null, f.prim)))
                w("static inline bool %s_is_present(const %s *m) { return %s(m) != (%s)%s; }"
                  % (fn, owner_type, fn, ctype, c_int(f.null, f.prim)))

    def field_setters(self, enc_type, prefix, base, guard, fields, w):
        for f in fields:
            if f.constant is not None:
                continue
            ctype = PRIMITIVES[f.prim][1]
            acc = PRIMITIVES[f.prim][2]
            fn = "%s_set_%s" % (prefix, snake(f.name))
            size = PRIMITIVES[f.prim][0]
            if f.length > 1:
                w("static inline void %s(%s *e, size_t i, %s v)" % (fn, enc_type, ctype))
                w("{")
                w("    if (%s && i < %d)" % (guard, f.length))
                w("        tp_sbe_put_%s(%s + %d + i * %d, (%s)v);" % (acc, base, f.offset, size, ctype))
                w("    else")
                w("        e->e.failed = true;")
                w("}")
                if size == 1:
                    w("static inline void %s_bytes(%s *e, const uint8_t *src, size_t n)" % (fn, enc_type))
                    w("{")
                    w("    if (%s && n <= %d) {" % (guard, f.length))
                    w("        memcpy(%s + %d, src, n);" % (base, f.offset))
                    w("        memset(%s + %d + n, 0, %d - n);" % (base, f.offset, f.length))
                    w("    } else {")
                    w("        e->e.failed = true;")
                    w("    }")
                    w("}")
                continue
            w("static inline void %s(%s *e, %s v)" % (fn, enc_type, ctype))
            w("{")
            w("    if (%s)" % guard)
            w("        tp_sbe_put_%s(%s + %d, v);" % (acc, base, f.offset))
            w("    else")
            w("        e->e.failed = true;")
            w("}")

    def group_getters(self, x, xn, it, step_expr, w):
        """Getters of one entry of group x (iterator type it): fixed fields,
        nested groups (iterators started from the entry), var data."""
        self.field_getters(it, xn, "m->it.buf + m->it.entry", x.fields, w)
        for c, (kind, y) in enumerate(x.children):
            yn = "%s_%s" % (xn, snake(y.name))
            if kind == "data":
                ctype = "char" if y.ascii else "uint8_t"
                w("static inline const %s *%s(const %s *m, uint32_t *len)" % (ctype, yn, it))
                w("{")
                w("    return (const %s *)tp_sbe_var_at(m->it.buf, m->it.var_off[%d], len);" % (ctype, c))
                w("}")
                continue
            yit = yn + "_iter_t"
            w("typedef struct %s_iter_s {" % yn)
            w("    tp_sbe_group_iter_t it;")
            w("} %s;" % yit)
            w("static inline uint16_t %s_count(const %s *m) { return tp_sbe_get_u16(m->it.buf + m->it.var_off[%d] + 2); }"
              % (yn, it, c))
            w("static inline void %s_iter(const %s *m, %s *it)" % (yn, it, yit))
            w("{")
            w("    tp_sbe_group_iter_init_at(&it->it, m->it.buf, m->it.len, m->it.var_off[%d], &(%s)->sub[%d]);"
              % (c, step_expr, c))
            w("}")
            w("static inline int %s_next(%s *it) { return tp_sbe_group_iter_next(&it->it); }" % (yn, yit))
            self.group_getters(y, yn, yit, "&(%s)->sub[%d]" % (step_expr, c), w)

    def group_setters(self, x, xn, enc, w, nested=False):
        """Encoders of one entry of group x: fixed fields, nested groups, var data."""
        entry, ok = ("e->e.sub_entry", "e->e.sub_entry_ok") if nested else ("e->e.entry", "e->e.entry_ok")
        self.field_setters(enc, xn, "e->e.buf + " + entry, ok, x.fields, w)
        for c, (kind, y) in enumerate(x.children):
            yn = "%s_%s" % (xn, snake(y.name))
            if kind == "data":
                fn = "tp_sbe_enc_sub_entry_var" if nested else "tp_sbe_enc_entry_var"
                idx = c - len(x.groups) if nested else c
                w("static inline int %s_put_%s(%s *e, const void *data, size_t len)" % (xn, snake(y.name), enc))
                w("{")
                w("    return %s(&e->e, %d, data, len);" % (fn, idx))
                w("}")
                continue
            w("static inline int %s_encode_begin(%s *e, uint16_t count)" % (yn, enc))
            w("{")
            w("    return tp_sbe_enc_sub_group_begin(&e->e, %d, count);" % c)
            w("}")
            w("static inline int %s_encode_next(%s *e) { return tp_sbe_enc_sub_group_next(&e->e); }" % (yn, enc))
            self.group_setters(y, yn, enc, w, nested=True)

    def message_header(self, m):
        out = []
        w = out.append
        mp, MP = self.mp(m), self.MP(m)
        dec, enc = mp + "_dec_t", mp + "_enc_t"
        nsteps = len(m.steps)
        headerless = m.name in self.s.cfg["headerless"]
        w("/* ---- %s: template %d, blockLength %d ---- */" % (m.name, m.id, m.block_length))
        w("#define %s_TEMPLATE_ID %d" % (MP, m.id))
        w("#define %s_BLOCK_LENGTH %d" % (MP, m.block_length))
        w("TP_INTERNAL extern const tp_sbe_layout_t %s_layout;" % mp)
        w("")
        w("typedef struct %s_dec_s {" % mp)
        w("    tp_sbe_dec_t d;")
        w("    size_t step_off[%d];" % max(1, nsteps))
        w("} %s;" % dec)
        w("")
        w("/* Validate buf as a complete %s; 0 or -1 with tp_errmsg() saying why. */" % m.name)
        w("static inline int %s_decode(%s *m, const void *buf, size_t len)" % (mp, dec))
        w("{")
        if self.fixed_check(m):
            w("    if (tp_sbe_dec_fixed(&m->d, buf, len, %d, %d, %d, %d)) return 0;"
              % (self.s.id, m.id, self.s.version, m.block_length))
        w("    return tp_sbe_dec_wrap(&%s_layout, &m->d, m->step_off, buf, len, false);" % mp)
        w("}")
        if headerless:
            w("/* Decode the headerless SHM form (no 8-byte message header). */")
            w("static inline int %s_decode_headerless(%s *m, const void *buf, size_t len)" % (mp, dec))
            w("{")
            w("    return tp_sbe_dec_wrap(&%s_layout, &m->d, m->step_off, buf, len, true);" % mp)
            w("}")
        w("/* Fixed-field view without validation (see tp_sbe_dec_view): raw root-block values only. */")
        view_variants = [("view", "false")] + ([("view_headerless", "true")] if headerless else [])
        for suffix, hl in view_variants:
            w("static inline int %s_%s(%s *m, const void *buf, size_t len)" % (mp, suffix, dec))
            w("{")
            w("    for (size_t i = 0; i < %d; i++)" % max(1, nsteps))
            w("        m->step_off[i] = 0;")
            w("    return tp_sbe_dec_view(&%s_layout, &m->d, buf, len, %s);" % (mp, hl))
            w("}")
        w("/* Bytes the decoded message occupies (header included). */")
        w("static inline size_t %s_length(const %s *m) { return m->d.end; }" % (mp, dec))
        self.field_getters(dec, mp, "m->d.buf + m->d.root", m.fields, w)
        for k, (kind, x) in enumerate(m.steps):
            xn = "%s_%s" % (mp, snake(x.name))
            if kind == "data":
                ctype = "char" if x.ascii else "uint8_t"
                w("static inline const %s *%s(const %s *m, uint32_t *len)" % (ctype, xn, dec))
                w("{")
                w("    return (const %s *)tp_sbe_var_at(m->d.buf, m->step_off[%d], len);" % (ctype, k))
                w("}")
                continue
            it = xn + "_iter_t"
            w("typedef struct %s_iter_s {" % xn)
            w("    tp_sbe_group_iter_t it;")
            w("} %s;" % it)
            w("static inline uint16_t %s_count(const %s *m) { return tp_sbe_get_u16(m->d.buf + m->step_off[%d] + 2); }"
              % (xn, dec, k))
            w("static inline void %s_iter(const %s *m, %s *it)" % (xn, dec, it))
            w("{")
            if x.groups:
                w("    tp_sbe_group_iter_init_at(&it->it, m->d.buf, m->d.len, m->step_off[%d], &%s_layout.steps[%d]);"
                  % (k, mp, k))
            else:
                w("    tp_sbe_group_iter_init(&it->it, &m->d, m->step_off[%d], %d);" % (k, len(x.datas)))
            w("}")
            w("/* 1: positioned on the next entry; 0: no more; -1: malformed. */")
            w("static inline int %s_next(%s *it) { return tp_sbe_group_iter_next(&it->it); }" % (xn, it))
            self.group_getters(x, xn, it, "&%s_layout.steps[%d]" % (mp, k), w)
        w("")
        w("typedef struct %s_enc_s {" % mp)
        w("    tp_sbe_enc_t e;")
        w("} %s;" % enc)
        w("/* Start encoding into buf: writes the header and zeroes the root block. */")
        w("static inline int %s_encode_begin(%s *e, void *buf, size_t cap)" % (mp, enc))
        w("{")
        w("    return tp_sbe_enc_begin(&e->e, &%s_layout, buf, cap, false);" % mp)
        w("}")
        if headerless:
            w("static inline int %s_encode_begin_headerless(%s *e, void *buf, size_t cap)" % (mp, enc))
            w("{")
            w("    return tp_sbe_enc_begin(&e->e, &%s_layout, buf, cap, true);" % mp)
            w("}")
        w("/* Finish: returns the encoded length, or -1 if any step failed. */")
        w("static inline long %s_encode_end(%s *e) { return tp_sbe_enc_end(&e->e); }" % (mp, enc))
        self.field_setters(enc, mp, "e->e.buf + e->e.root", "e->e.root_ok", m.fields, w)
        for k, (kind, x) in enumerate(m.steps):
            xn = "%s_%s" % (mp, snake(x.name))
            if kind == "data":
                w("static inline int %s_put_%s(%s *e, const void *data, size_t len)" % (mp, snake(x.name), enc))
                w("{")
                w("    return tp_sbe_enc_var(&e->e, %d, data, len);" % k)
                w("}")
                continue
            w("static inline int %s_encode_begin(%s *e, uint16_t count)" % (xn, enc))
            w("{")
            w("    return tp_sbe_enc_group_begin(&e->e, %d, count);" % k)
            w("}")
            w("static inline int %s_encode_next(%s *e) { return tp_sbe_enc_group_next(&e->e); }" % (xn, enc))
            self.group_setters(x, xn, enc, w)
        w("")
        w("/* JSON object for one message at buf (tp decode); *consumed = its length. */")
        w("TP_INTERNAL int %s_print_json(const void *buf, size_t len, bool headerless, tp_json_t *j, size_t *consumed);"
          % mp)
        w("/* Decode and encode again from the decoded values only; returns the length. */")
        w("TP_INTERNAL long %s_reencode(const void *buf, size_t len, bool headerless, void *out, size_t cap);" % mp)
        w("")
        return out

    # ---- source -----------------------------------------------------------
    def source(self):
        s, p = self.s, self.p
        out = []
        w = out.append
        w("/* GENERATED by tools/sbe_codegen.py from %s -- do not edit. */" % s.cfg["xml"])
        w('#include "tensorpool/codec/%s.h"' % s.name)
        w("")
        w("#include <inttypes.h>")
        w("")
        for e in s.enums.values():
            en = "%s_%s" % (p, snake(e.name))
            w("const char *%s_name(int64_t v)" % en)
            w("{")
            w("    switch (v) {")
            for vn, vv in e.values:
                w('    case %d: return "%s";' % (vv, vn))
            w("    default: return NULL;")
            w("    }")
            w("}")
            w("")
        for m in s.messages:
            out.extend(self.message_source(m))
        w("static const tp_codec_message_t messages[] = {")
        for m in s.messages:
            mp = self.mp(m)
            w('    {%d, "%s", &%s_layout, %s, %s_print_json, %s_reencode},'
              % (m.id, m.name, mp, "true" if m.name in s.cfg["headerless"] else "false", mp, mp))
        w("};")
        w("")
        w('const tp_codec_schema_t %s_schema = {%d, %d, "%s", messages, %d};'
          % (p, s.id, s.version, s.name, len(s.messages)))
        return "\n".join(out) + "\n"

    def enum_checks(self, fields, base, w):
        for f in fields:
            if f.enum is None:
                continue
            en = "%s_%s" % (self.p, snake(f.enum.name))
            acc = PRIMITIVES[f.prim][2]
            cond = "!%s_is_valid(v)" % en
            if f.optional:
                cond = "v != %s && %s" % (c_int(f.null, f.prim), cond)
            w("    {")
            w("        int64_t v = tp_sbe_get_%s(%s + %d);" % (acc, base, f.offset))
            w("        if (%s)" % cond)
            w('            return tp_err_set(TP_ERR_INVALID_ENUM, "field \'%s\' holds %%" PRId64 ", not a %s value", v);'
              % (f.name, f.enum.name))
            w("    }")

    def json_fields(self, fields, getter_prefix, obj, w, indent="    "):
        # JSON keys are the schema names in snake_case and 64-bit integers are
        # decimal strings (docs/json.md): a parser using doubles rounds above 2^53.
        for f in fields:
            fn = "%s_%s" % (getter_prefix, snake(f.name))
            w('%stp_json_key(j, "%s");' % (indent, snake(f.name)))
            signed = PRIMITIVES[f.prim][3]
            wide = PRIMITIVES[f.prim][0] == 8
            num = ("tp_json_i64" if signed else "tp_json_u64") + ("_string" if wide else "")
            cast = "int64_t" if signed else "uint64_t"
            if f.constant is not None:
                w("%s%s(j, (%s)%s(%s));" % (indent, num, cast, fn, obj))
            elif f.length > 1 and PRIMITIVES[f.prim][0] == 1:
                w("%stp_json_begin_object(j);" % indent)
                w('%stp_json_key(j, "hex");' % indent)
                w("%stp_json_hex(j, %s_bytes(%s), %d);" % (indent, fn, obj, f.length))
                w("%stp_json_end_object(j);" % indent)
            elif f.length > 1:
                w("%stp_json_begin_array(j);" % indent)
                w("%sfor (size_t i = 0; i < %d; i++)" % (indent, f.length))
                w("%s    %s(j, (%s)%s(%s, i));" % (indent, num, cast, fn, obj))
                w("%stp_json_end_array(j);" % indent)
            elif f.enum is not None:
                en = "%s_%s" % (self.p, snake(f.enum.name))
                w("%stp_codec_json_enum(j, %s_name(%s(%s)), (int64_t)%s(%s), %s);"
                  % (indent, en, fn, obj, fn, obj, c_int(f.enum.null, f.prim)))
            elif f.optional:
                w("%sif (%s_is_present(%s))" % (indent, fn, obj))
                w("%s    %s(j, (%s)%s(%s));" % (indent, num, cast, fn, obj))
                w("%selse" % indent)
                w("%s    tp_json_null(j);" % indent)
            else:
                w("%s%s(j, (%s)%s(%s));" % (indent, num, cast, fn, obj))

    def json_data(self, m, d, getter, obj, w, indent="    "):
        w('%stp_json_key(j, "%s");' % (indent, snake(d.name)))
        w("%s{" % indent)
        w("%s    uint32_t n;" % indent)
        if d.ascii:
            w("%s    const char *p = %s(%s, &n);" % (indent, getter, obj))
            w("%s    tp_json_string(j, p, n);" % indent)
        else:
            w("%s    const uint8_t *p = %s(%s, &n);" % (indent, getter, obj))
            w("%s    tp_json_begin_object(j);" % indent)
            w('%s    tp_json_key(j, "hex");' % indent)
            w("%s    tp_json_hex(j, p, n);" % indent)
            if (m.name, d.name) in self.s.cfg["embedded"]:
                w('%s    tp_json_key(j, "decoded");' % indent)
                w("%s    tp_codec_json_embedded(j, p, n);" % indent)
            w("%s    tp_json_end_object(j);" % indent)
        w("%s}" % indent)

    def json_entry(self, m, x, xn, it, w, indent):
        """JSON object of the current entry of iterator `it` over group x."""
        w("%stp_json_begin_object(j);" % indent)
        self.json_fields(x.fields, xn, "&" + it, w, indent=indent)
        for kind, y in x.children:
            yn = "%s_%s" % (xn, snake(y.name))
            if kind == "data":
                self.json_data(m, y, yn, "&" + it, w, indent=indent)
                continue
            sub = it + "_" + snake(y.name)
            w('%stp_json_key(j, "%s");' % (indent, snake(y.name)))
            w("%stp_json_begin_array(j);" % indent)
            w("%s{" % indent)
            w("%s    %s_iter_t %s;" % (indent, yn, sub))
            w("%s    %s_iter(&%s, &%s);" % (indent, yn, it, sub))
            w("%s    while (%s_next(&%s) > 0) {" % (indent, yn, sub))
            self.json_entry(m, y, yn, sub, w, indent + "        ")
            w("%s    }" % indent)
            w("%s}" % indent)
            w("%stp_json_end_array(j);" % indent)
        w("%stp_json_end_object(j);" % indent)

    def copy_entry(self, x, xn, it, w, indent):
        """Re-encode the current entry of iterator `it` over group x."""
        self.copy_fields(x.fields, xn, xn, "&" + it, w, indent=indent)
        for kind, y in x.children:
            yn = "%s_%s" % (xn, snake(y.name))
            if kind == "data":
                w("%s{" % indent)
                w("%s    uint32_t n;" % indent)
                w("%s    const void *p = %s(&%s, &n);" % (indent, yn, it))
                w("%s    %s_put_%s(&e, p, n);" % (indent, xn, snake(y.name)))
                w("%s}" % indent)
                continue
            sub = it + "_" + snake(y.name)
            w("%s{" % indent)
            w("%s    %s_iter_t %s;" % (indent, yn, sub))
            w("%s    %s_iter(&%s, &%s);" % (indent, yn, it, sub))
            w("%s    %s_encode_begin(&e, %s_count(&%s));" % (indent, yn, yn, it))
            w("%s    while (%s_next(&%s) > 0) {" % (indent, yn, sub))
            w("%s        %s_encode_next(&e);" % (indent, yn))
            self.copy_entry(y, yn, sub, w, indent + "        ")
            w("%s    }" % indent)
            w("%s}" % indent)

    def copy_fields(self, fields, getter_prefix, setter_prefix, obj, w, indent="    "):
        for f in fields:
            if f.constant is not None:
                continue
            g = "%s_%s" % (getter_prefix, snake(f.name))
            st = "%s_set_%s" % (setter_prefix, snake(f.name))
            if f.length > 1:
                w("%sfor (size_t i = 0; i < %d; i++)" % (indent, f.length))
                w("%s    %s(&e, i, %s(%s, i));" % (indent, st, g, obj))
            else:
                w("%s%s(&e, %s(%s));" % (indent, st, g, obj))

    def step_row(self, m, kind, x, prefix, w):
        """The tp_sbe_step_t initializer of one step; emits what it refers to
        (entry validator, nested step table) first."""
        if kind == "data":
            return '    {"%s", TP_SBE_STEP_VAR, 0, 0, %dU, NULL, NULL, 0},' % (x.name, x.max_length)
        gp = "%s_%s" % (prefix, snake(x.name))
        ventry = "NULL"
        if self.strict and any(f.enum is not None for f in x.fields):
            ventry = "validate_%s_entry" % gp
            w("static int %s(const uint8_t *entry, uint16_t index)" % ventry)
            w("{")
            w("    (void)index;")
            self.enum_checks(x.fields, "entry", w)
            w("    return 0;")
            w("}")
            w("")
        sub, nsub = "NULL", 0
        if x.groups:
            rows = [self.step_row(m, k, y, gp, w) for k, y in x.children]
            sub, nsub = "%s_steps" % gp, len(rows)
            w("static const tp_sbe_step_t %s[] = {" % sub)
            for r in rows:
                w(r)
            w("};")
            w("")
        return '    {"%s", TP_SBE_STEP_GROUP, %d, %d, 0, %s, %s, %d},' % (
            x.name, x.block_length, len(x.datas), ventry, sub, nsub)

    def message_source(self, m):
        out = []
        w = out.append
        mp = self.mp(m)
        root_enums = [f for f in m.fields if f.enum is not None]
        validate_root = "NULL"
        if self.strict and root_enums:
            validate_root = "validate_%s_root" % snake(m.name)
            w("static int %s(const uint8_t *root)" % validate_root)
            w("{")
            self.enum_checks(m.fields, "root", w)
            w("    return 0;")
            w("}")
            w("")
        step_rows = [self.step_row(m, kind, x, snake(m.name), w) for kind, x in m.steps]
        steps = "NULL"
        if step_rows:
            steps = "%s_steps" % snake(m.name)
            w("static const tp_sbe_step_t %s[] = {" % steps)
            out.extend(step_rows)
            w("};")
            w("")
        w("const tp_sbe_layout_t %s_layout = {" % mp)
        w('    "%s", %d, %d, %d, %d, TP_SBE_POLICY_%s, %d, %s, %s,'
          % (m.name, self.s.id, m.id, self.s.version, m.block_length, self.s.cfg["policy"],
             len(m.steps), steps, validate_root))
        w("};")
        w("")
        # JSON printer
        dec = mp + "_dec_t"
        w("int %s_print_json(const void *buf, size_t len, bool headerless, tp_json_t *j, size_t *consumed)" % mp)
        w("{")
        w("    %s m;" % dec)
        w("    int rc = headerless ? tp_sbe_dec_wrap(&%s_layout, &m.d, m.step_off, buf, len, true)" % mp)
        w("                        : %s_decode(&m, buf, len);" % mp)
        w("    if (rc < 0)")
        w("        return -1;")
        w("    tp_codec_json_message_begin(j, &%s_layout, &m.d, headerless);" % mp)
        self.json_fields(m.fields, mp, "&m", w)
        for kind, x in m.steps:
            xn = "%s_%s" % (mp, snake(x.name))
            if kind == "data":
                self.json_data(m, x, xn, "&m", w)
                continue
            w('    tp_json_key(j, "%s");' % snake(x.name))
            w("    tp_json_begin_array(j);")
            w("    {")
            w("        %s_iter_t it;" % xn)
            w("        %s_iter(&m, &it);" % xn)
            w("        while (%s_next(&it) > 0) {" % xn)
            self.json_entry(m, x, xn, "it", w, "            ")
            w("        }")
            w("    }")
            w("    tp_json_end_array(j);")
        w("    tp_codec_json_message_end(j);")
        w("    *consumed = m.d.end;")
        w("    return 0;")
        w("}")
        w("")
        # re-encoder
        w("long %s_reencode(const void *buf, size_t len, bool headerless, void *out, size_t cap)" % mp)
        w("{")
        w("    %s m;" % dec)
        w("    %s_enc_t e;" % mp)
        w("    if (tp_sbe_dec_wrap(&%s_layout, &m.d, m.step_off, buf, len, headerless) < 0)" % mp)
        w("        return -1;")
        w("    if (tp_sbe_enc_begin(&e.e, &%s_layout, out, cap, headerless) < 0)" % mp)
        w("        return -1;")
        self.copy_fields(m.fields, mp, mp, "&m", w)
        for kind, x in m.steps:
            xn = "%s_%s" % (mp, snake(x.name))
            if kind == "data":
                w("    {")
                w("        uint32_t n;")
                w("        const void *p = %s(&m, &n);" % xn)
                w("        %s_put_%s(&e, p, n);" % (mp, snake(x.name)))
                w("    }")
                continue
            w("    {")
            w("        %s_iter_t it;" % xn)
            w("        %s_iter(&m, &it);" % xn)
            w("        %s_encode_begin(&e, %s_count(&m));" % (xn, xn))
            w("        while (%s_next(&it) > 0) {" % xn)
            w("            %s_encode_next(&e);" % xn)
            self.copy_entry(x, xn, "it", w, "            ")
            w("        }")
            w("    }")
        w("    return %s_encode_end(&e);" % mp)
        w("}")
        w("")
        return out


def outputs():
    """Map of relative path -> generated text for every schema."""
    files = {}
    for cfg in SCHEMAS:
        schema = Schema(cfg)
        em = Emitter(schema)
        files["include/tensorpool/codec/%s.h" % cfg["name"]] = em.header()
        files["src/codec/%s_codec.c" % cfg["name"]] = em.source()
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="fail if committed files differ from the generator's output")
    args = ap.parse_args()
    try:
        files = outputs()
    except SchemaError as e:
        print("sbe_codegen: %s" % e, file=sys.stderr)
        return 2
    stale = []
    for rel, text in sorted(files.items()):
        path = os.path.join(ROOT, rel)
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        if args.check:
            stale.append(rel)
            diff = difflib.unified_diff((current or "").splitlines(True), text.splitlines(True),
                                        "committed/" + rel, "generated/" + rel, n=1)
            sys.stderr.writelines(list(diff)[:40])
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("wrote %s" % rel)
    if stale:
        print("sbe_codegen: generated files are stale (run tools/sbe_codegen.py): %s" % ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
