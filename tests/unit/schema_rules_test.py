#!/usr/bin/env python3
"""Rules the SBE schemas in schemas/ must follow, checked on the XML and on
the generated headers (include/tensorpool/codec/*.h). The expected tables are
copied from the wire digest (docs/spec/wire.md §4.2-§4.4), so a schema edit that drifts
from the spec fails here even though the generator accepts it.

usage: schema_rules_test.py [REPO_ROOT]
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SBE = "{http://fixprotocol.io/2016/sbe}"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def load(name):
    return ET.parse(os.path.join(ROOT, "schemas", name)).getroot()


def header(name):
    with open(os.path.join(ROOT, "include", "tensorpool", "codec", name + ".h"), encoding="utf-8") as f:
        return f.read()


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.lower()


SIZES = {"char": 1, "uint8": 1, "int8": 1, "uint16": 2, "int16": 2, "uint32": 4, "int32": 4, "uint64": 8, "int64": 8}
ALL_ONES = {"uint8": 0xFF, "uint16": 0xFFFF, "uint32": 0xFFFFFFFF, "uint64": 0xFFFFFFFFFFFFFFFF}


class Types:
    def __init__(self, root):
        self.types, self.enums = {}, {}
        for t in root.find("types"):
            if t.tag == "type":
                self.types[t.get("name")] = t
            elif t.tag == "enum":
                self.enums[t.get("name")] = t

    def prim(self, tname):
        """(primitive, length, constant?) of a field type."""
        if tname in SIZES:
            return tname, 1, False
        if tname in self.enums:
            return self.enums[tname].get("encodingType"), 1, False
        t = self.types[tname]
        return t.get("primitiveType"), int(t.get("length", "1")), t.get("presence") == "constant"


def messages(root):
    return [m for m in root if m.tag == SBE + "message"]


def fixed_fields(elem, types):
    """[(name, primitive, size)] of the fixed fields; constants take no bytes."""
    out = []
    for f in elem.findall("field"):
        prim, length, const = types.prim(f.get("type"))
        out.append((f.get("name"), prim, 0 if const else SIZES[prim] * length))
    return out


# ---- W-16.a: the control-plane schema header ----------------------------------
control = load("control.xml")
check(control.get("id") == "900", "W-16.a: control schema id is %s, not 900" % control.get("id"))
check(control.get("version") == "1", "W-16.a: control schema version is not 1")
check(control.get("semanticVersion") == "1.1", "W-16.a: control semanticVersion is not 1.1")
check(control.get("byteOrder") == "littleEndian", "W-16.a: control byteOrder is not littleEndian")
check(control.get("package") == "shm.tensorpool.control", "W-16.a: control package is not shm.tensorpool.control")
ch = header("control")
check(re.search(r"#define TP_CONTROL_SCHEMA_ID 900\b", ch) is not None, "W-16.a: generated TP_CONTROL_SCHEMA_ID is not 900")
check(re.search(r"#define TP_CONTROL_SCHEMA_VERSION 1\b", ch) is not None, "W-16.a: generated version is not 1")
ctypes = Types(control)

# ---- W-15.8.b: enum values of docs/spec/wire.md §4.2, unchanged within v1.x ----------------
ENUMS = {
    "Bool": ("uint8", [("FALSE", 0), ("TRUE", 1)]),
    "Mode": ("uint8", [("STREAM", 1), ("RATE_LIMITED", 2)]),
    "FrameProgressState": ("uint8", [("UNKNOWN", 0), ("STARTED", 1), ("PROGRESS", 2), ("COMPLETE", 3)]),
    "ProgressUnit": ("uint8", [("NONE", 0), ("ROWS", 1), ("COLUMNS", 2)]),
    "ClockDomain": ("uint8", [("MONOTONIC", 1), ("REALTIME_SYNCED", 2)]),
    "ResponseCode": ("int32", [("OK", 0), ("UNSUPPORTED", 1), ("INVALID_PARAMS", 2), ("REJECTED", 3), ("INTERNAL_ERROR", 4)]),
    "RegionType": ("int16", [("HEADER_RING", 1), ("PAYLOAD_POOL", 2)]),
    "MajorOrder": ("int16", [("UNKNOWN", 0), ("ROW", 1), ("COLUMN", 2)]),
    "Dtype": ("int16", [("UNKNOWN", 0), ("UINT8", 1), ("INT8", 2), ("UINT16", 3), ("INT16", 4), ("UINT32", 5),
                        ("INT32", 6), ("UINT64", 7), ("INT64", 8), ("FLOAT32", 9), ("FLOAT64", 10), ("BOOLEAN", 11),
                        ("BYTES", 13), ("BIT", 14)]),
}
check(set(ctypes.enums) == set(ENUMS), "W-15.8.b: control enums are %s" % sorted(ctypes.enums))
for name, (enc, values) in ENUMS.items():
    e = ctypes.enums.get(name)
    if e is None:
        continue
    check(e.get("encodingType") == enc, "W-15.8.b: %s encoding %s, not %s" % (name, e.get("encodingType"), enc))
    got = [(v.get("name"), int(v.text)) for v in e.findall("validValue")]
    check(got == values, "W-15.8.b: %s values %s, not %s" % (name, got, values))
    for vname, v in values:  # the generated C enum carries the same numbers
        macro = "TP_CONTROL_%s_%s" % (snake(name).upper(), vname)
        check(re.search(r"\b%s = %d," % (macro, v), ch) is not None, "W-15.8.b: generated %s is not %d" % (macro, v))

# ---- W-16.b, D-7: message set, template ids, field order (docs/spec/wire.md §4.3, §4.4) -----
U8, U16, U32, U64, I16, I32, I64 = "uint8", "uint16", "uint32", "uint64", "int16", "int32", "int64"
MESSAGES = [
    (1, "ShmPoolAnnounce", 35,
     [("streamId", U32), ("producerId", U32), ("epoch", U64), ("announceTimestampNs", U64), ("announceClockDomain", U8),
      ("layoutVersion", U32), ("headerNslots", U32), ("headerSlotBytes", U16)],
     [("group", "payloadPools", 10, [("poolId", U16), ("poolNslots", U32), ("strideBytes", U32)], ["regionUri"]),
      ("data", "headerRegionUri")]),
    (2, "ConsumerHello", 39,
     [("streamId", U32), ("consumerId", U32), ("supportsShm", U8), ("supportsProgress", U8), ("mode", U8),
      ("maxRateHz", U32), ("expectedLayoutVersion", U32), ("progressIntervalUs", U32), ("progressBytesDelta", U32),
      ("progressMajorDeltaUnits", U32), ("descriptorStreamId", U32), ("controlStreamId", U32)],
     [("data", "descriptorChannel"), ("data", "controlChannel")]),
    (3, "ConsumerConfig", 18,
     [("streamId", U32), ("consumerId", U32), ("useShm", U8), ("mode", U8), ("descriptorStreamId", U32),
      ("controlStreamId", U32)],
     [("data", "payloadFallbackUri"), ("data", "descriptorChannel"), ("data", "controlChannel")]),
    (4, "FrameDescriptor", 40,
     [("streamId", U32), ("epoch", U64), ("seq", U64), ("timestampNs", U64), ("metaVersion", U32), ("traceId", U64)], []),
    (5, "QosConsumer", 41,
     [("streamId", U32), ("consumerId", U32), ("epoch", U64), ("lastSeqSeen", U64), ("dropsGap", U64),
      ("dropsLate", U64), ("mode", U8)], []),
    (6, "QosProducer", 28,
     [("streamId", U32), ("producerId", U32), ("epoch", U64), ("currentSeq", U64), ("watermark", U32)], []),
    (7, "DataSourceAnnounce", 20,
     [("streamId", U32), ("producerId", U32), ("epoch", U64), ("metaVersion", U32)],
     [("data", "name"), ("data", "summary")]),
    (8, "DataSourceMeta", 16,
     [("streamId", U32), ("metaVersion", U32), ("timestampNs", U64)],
     [("group", "attributes", 0, [], ["key", "format", "value"])]),
    (9, "ControlResponse", 12, [("correlationId", I64), ("code", I32)], [("data", "errorMessage")]),
    (10, "MetaBlobAnnounce", 28,
     [("streamId", U32), ("metaVersion", U32), ("blobType", U32), ("totalLen", U64), ("checksum", U64)], []),
    (11, "FrameProgress", 29,
     [("streamId", U32), ("epoch", U64), ("seq", U64), ("payloadBytesFilled", U64), ("state", U8)], []),
    (12, "MetaBlobChunk", 16, [("streamId", U32), ("metaVersion", U32), ("chunkOffset", U64)], [("data", "bytes")]),
    (13, "MetaBlobComplete", 16, [("streamId", U32), ("metaVersion", U32), ("checksum", U64)], []),
    (50, "ShmRegionSuperblock", 64, None, []),
    (51, "SlotHeader", 60, None, [("data", "headerBytes")]),
    (52, "TensorHeader", 184, None, []),
]
by_name = {m.get("name"): m for m in messages(control)}
check(sorted((int(m.get("id")), m.get("name")) for m in messages(control)) == sorted((i, n) for i, n, *_ in MESSAGES),
      "W-16.b: control message set is %s" % sorted((int(m.get("id")), m.get("name")) for m in messages(control)))
for tid, name, bl, root, tail in MESSAGES:
    m = by_name.get(name)
    if m is None:
        continue
    check(int(m.get("id")) == tid, "W-16.b: %s has template id %s, not %d" % (name, m.get("id"), tid))
    check(int(m.get("blockLength")) == bl, "W-16.b: %s blockLength %s, not %d" % (name, m.get("blockLength"), bl))
    fields = fixed_fields(m, ctypes)
    check(sum(s for _, _, s in fields) == bl, "W-16.b: %s fields take %d bytes, not %d" % (name, sum(s for _, _, s in fields), bl))
    if root is not None:
        got = [(n, p) for n, p, _ in fields]
        check(got == root, "W-16.b: %s root block %s, not %s" % (name, got, root))
    got_tail = []
    for x in m:
        if x.tag == "group":
            gf = fixed_fields(x, ctypes)
            got_tail.append(("group", x.get("name"), int(x.get("blockLength")), [(n, p) for n, p, _ in gf],
                             [d.get("name") for d in x.findall("data")]))
        elif x.tag == "data":
            got_tail.append(("data", x.get("name")))
    check(got_tail == tail, "W-16.b: %s groups/var data %s, not %s" % (name, got_tail, tail))
    check(re.search(r"#define TP_CONTROL_%s_TEMPLATE_ID %d\b" % (snake(name).upper(), tid), ch) is not None,
          "W-16.b: generated template id of %s is not %d" % (name, tid))

# D-7: the published schema's superset: MetaBlob* at 10, 12, 13 (checked above)
# and minValue=1 on TensorHeader.progressStrideBytes.
th = by_name.get("TensorHeader")
psb = [f for f in th.findall("field") if f.get("name") == "progressStrideBytes"] if th is not None else []
check(len(psb) == 1 and psb[0].get("minValue") == "1", "D-7: TensorHeader.progressStrideBytes lacks minValue=1")

# ---- W-8.2.a: maxDims is a build-time constant 8 that occupies no bytes --------
mdc = ctypes.types.get("MaxDimsConst")
check(mdc is not None and mdc.get("presence") == "constant" and (mdc.text or "").strip() == "8",
      "W-8.2.a: MaxDimsConst is not the constant 8")
if th is not None:
    md = [f for f in th.findall("field") if f.get("name") == "maxDims"]
    check(len(md) == 1 and md[0].get("type") == "MaxDimsConst", "W-8.2.a: TensorHeader.maxDims is not MaxDimsConst")
    sizes = {n: s for n, _, s in fixed_fields(th, ctypes)}
    check(sizes.get("maxDims") == 0 and sum(sizes.values()) == 184, "W-8.2.a: maxDims occupies bytes in TensorHeader")
for arr in ("DimsArray", "StridesArray"):
    t = ctypes.types.get(arr)
    check(t is not None and t.get("length") == "8", "W-8.2.a: %s is not 8 long" % arr)
check(re.search(r"#define TP_CONTROL_TENSOR_HEADER_MAX_DIMS_VALUE 8\b", ch) is not None,
      "W-8.2.a: no generated MAX_DIMS constant 8")
getter = re.search(r"tp_control_tensor_header_max_dims\([^)]*\) \{([^}]*)\}", ch)
check(getter is not None and "return 8;" in getter.group(1) and "tp_sbe_get" not in getter.group(1),
      "W-8.2.a: the generated maxDims getter reads the buffer instead of returning the constant")
with open(os.path.join(ROOT, "include", "tensorpool", "tensor_header.h"), encoding="utf-8") as f:
    check(re.search(r"#define TP_TENSOR_MAX_DIMS 8\b", f.read()) is not None, "W-8.2.a: TP_TENSOR_MAX_DIMS is not 8")

# ---- W-10.1.a: null sentinels of optional fields --------------------------------
# docs/spec/wire.md §4.4 "Null" columns: every optional field of the control schema.
NULLS = {
    ("ConsumerHello", "progressIntervalUs"): 0xFFFFFFFF,
    ("ConsumerHello", "progressBytesDelta"): 0xFFFFFFFF,
    ("ConsumerHello", "progressMajorDeltaUnits"): 0xFFFFFFFF,
    ("FrameDescriptor", "timestampNs"): 0xFFFFFFFFFFFFFFFF,
    ("FrameDescriptor", "metaVersion"): 0xFFFFFFFF,
    ("FrameDescriptor", "traceId"): 0,
    ("QosProducer", "watermark"): 0xFFFFFFFF,
}


def effective_null(f, types):
    """The null value a field declares, or the SBE default for its type."""
    if f.get("nullValue") is not None:
        return int(f.get("nullValue"), 0)
    t = types.types.get(f.get("type"))
    if t is not None and t.get("nullValue") is not None:
        return int(t.get("nullValue"), 0)
    prim, _, _ = types.prim(f.get("type"))
    return ALL_ONES.get(prim)


for schema, prefix in (("control.xml", "TP_CONTROL"), ("driver.xml", "TP_DRIVER"), ("bridge.xml", "TP_BRIDGE"),
                       ("merge.xml", "TP_MERGE")):
    root = load(schema)
    types = Types(root)
    text = header(prefix.split("_")[1].lower())
    for m in messages(root):
        for owner, elem in [(m.get("name"), m)] + [(m.get("name") + "." + g.get("name"), g) for g in m.findall("group")]:
            for f in elem.findall("field"):
                if f.get("presence") != "optional":
                    continue
                prim, _, _ = types.prim(f.get("type"))
                null = effective_null(f, types)
                if schema == "control.xml":
                    want = NULLS.get((owner, f.get("name")))
                    check(want is not None, "W-10.1.a: %s.%s is optional, the spec says required" % (owner, f.get("name")))
                    check(null == want, "W-10.1.a: %s.%s null %s, not %s" % (owner, f.get("name"), null, want))
                elif prim in ("uint32", "uint64") and f.get("nullValue") is None:
                    check(null == ALL_ONES[prim], "W-10.1.a: %s.%s null is not all ones" % (owner, f.get("name")))
                if prim.startswith("uint") and f.get("type") not in types.enums:
                    macro = "%s_%s_%s_NULL_VALUE" % (prefix, snake(owner.replace(".", "_")).upper().replace("__", "_"),
                                                     snake(f.get("name")).upper())
                    mm = re.search(r"#define %s UINT64_C\((0x[0-9A-Fa-f]+)\)" % macro, text)
                    check(mm is not None and int(mm.group(1), 16) == null,
                          "W-10.1.a: generated %s is not %s" % (macro, null))
    if schema == "control.xml":
        declared = {(m.get("name"), f.get("name")) for m in messages(root) for f in m.findall("field")
                    if f.get("presence") == "optional"}
        check(declared == set(NULLS), "W-10.1.a: optional control fields %s" % sorted(declared))

    # ---- W-10.1.c, W-10.1.d: var data is never optional and comes last -------
    for m in messages(root):
        for owner, elem in [(m.get("name"), m)] + [(m.get("name") + "." + g.get("name"), g) for g in m.findall("group")]:
            kinds = [x.tag for x in elem]
            datas = [x for x in elem if x.tag == "data"]
            for d in datas:
                check(d.get("presence") is None or d.get("presence") == "required",
                      "W-10.1.c: %s %s.%s is declared presence=%s" % (schema, owner, d.get("name"), d.get("presence")))
            if datas:
                first = kinds.index("data")
                check(all(k == "data" for k in kinds[first:]),
                      "W-10.1.d: %s %s has a field or group after var data" % (schema, owner))
                fixed_ids = [int(f.get("id")) for f in elem.findall("field")]
                data_ids = [int(d.get("id")) for d in datas]
                # Bridge spec v1.1 added traceId (id 12) to a v1.0 message after its
                # var data ids 10 and 11; the wire order is the declaration order.
                if schema == "bridge.xml":
                    fixed_ids = [i for i in fixed_ids if i != 12]
                check(not fixed_ids or max(fixed_ids) < min(data_ids),
                      "W-10.1.d: %s %s numbers a var-data field before a fixed one" % (schema, owner))
            if "group" in kinds:
                check(all(k != "field" for k in kinds[kinds.index("group"):]),
                      "W-10.1.d: %s %s has a fixed field after a group" % (schema, owner))
    for comp in root.find("types").findall("composite"):
        for t in comp:
            check(t.get("presence") != "optional", "W-10.1.c: %s composite %s has an optional part" % (schema, comp.get("name")))

for f in failures:
    print("FAIL", f)
print("schema rules: %d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
