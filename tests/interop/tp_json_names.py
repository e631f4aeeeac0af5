"""How `tp decode` spells a decoded message (docs/json.md): keys are the SBE
schema names in snake_case, and every 64-bit integer field (uint64, int64 and
types built on them, such as epoch_t or seq_t) is a decimal string. The
expected values of the interop vectors use the schema's own names and JSON
numbers; tp_form() turns such an object into the form tp decode prints, using
the schemas in the repository to know which fields are 64-bit.
"""
import os
import re
import xml.etree.ElementTree as ET

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schemas")
WIDE = {"uint64", "int64"}


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.lower()


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def wide_fields(schema_dir=SCHEMA_DIR):
    """{message name: set of field names (schema spelling, groups included) that are 64-bit}."""
    out = {}
    for fn in sorted(os.listdir(schema_dir)):
        if not fn.endswith(".xml"):
            continue
        root = ET.parse(os.path.join(schema_dir, fn)).getroot()
        wide_types = set(WIDE)
        for el in root.iter():
            if _local(el.tag) == "type" and el.get("primitiveType") in WIDE and el.get("name"):
                wide_types.add(el.get("name"))
        for msg in root.iter():
            if _local(msg.tag) != "message":
                continue
            names = out.setdefault(msg.get("name"), set())
            for f in msg.iter():
                if _local(f.tag) == "field" and f.get("type") in wide_types:
                    names.add(f.get("name"))
    return out


WIDE_FIELDS = wide_fields()


def tp_form(message, obj, wide=None):
    """obj (a message's "fields", or a whole decoded message when message is None) as tp decode prints it."""
    if wide is None:
        wide = WIDE_FIELDS.get(message, set())
    if isinstance(obj, list):
        return [tp_form(message, x, wide) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k, v in obj.items():
        if k == "decoded" and isinstance(v, dict):  # an embedded message: its own schema names
            inner = dict(v)
            fields = inner.pop("fields", None)
            inner = tp_form(None, inner, set())
            if fields is not None:
                inner["fields"] = tp_form(v.get("message"), fields)
            out[k] = inner
        elif k in wide and isinstance(v, int) and not isinstance(v, bool):
            out[snake(k)] = str(v)
        else:
            out[snake(k)] = tp_form(message, v, wide)
    return out
