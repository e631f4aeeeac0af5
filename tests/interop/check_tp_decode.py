#!/usr/bin/env python3
"""Command-line behaviour of `tp decode`: streams of messages, errors with exit
status 2 that name the offending message, nothing decoded after an error.

usage: check_tp_decode.py TP_BINARY INTEROP_DIR
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

TP, DIR = sys.argv[1], sys.argv[2]
results = []


def vector(name):
    with open(os.path.join(DIR, name), "rb") as f:
        return f.read()


def run(args, data=None):
    return subprocess.run([TP, "decode"] + args, input=data, capture_output=True)


def test(fn):
    try:
        fn()
        results.append((fn.__name__, None))
    except AssertionError as e:
        results.append((fn.__name__, str(e) or "assertion failed"))


def stdin_stream_of_three_messages():
    data = vector("control_qos_producer.bin") + vector("merge_sequence_map_announce.bin") + vector("control_response.bin")
    r = run(["-"], data)
    assert r.returncode == 0, r.stderr
    objs = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [o["message"] for o in objs] == ["QosProducer", "SequenceMergeMapAnnounce", "ControlResponse"], objs
    assert sum(o["length"] for o in objs) == len(data)


def truncated_message_exits_2_after_earlier_ones():
    data = vector("control_qos_producer.bin") + vector("control_response.bin")[:-1]
    r = run([], data)
    assert r.returncode == 2, r.returncode
    assert len(r.stdout.decode().splitlines()) == 1, r.stdout
    err = r.stderr.decode()
    assert "message 1 at byte offset 36" in err and "truncated" in err, err


def unknown_schema_exits_2_and_stops():
    bad = bytearray(vector("control_qos_producer.bin"))
    bad[4:6] = (999).to_bytes(2, "little")
    r = run([], bytes(bad) + vector("control_response.bin"))
    assert r.returncode == 2
    assert r.stdout == b"", r.stdout
    assert b"unknown schema id 999" in r.stderr, r.stderr


def unknown_template_exits_2():
    bad = bytearray(vector("control_qos_producer.bin"))
    bad[2:4] = (77).to_bytes(2, "little")
    r = run([], bytes(bad))
    assert r.returncode == 2 and b"unknown template id 77" in r.stderr, r.stderr


def trailing_garbage_is_an_error():
    r = run([], vector("control_response.bin") + b"\x01\x02\x03")
    assert r.returncode == 2 and len(r.stdout.splitlines()) == 1, (r.returncode, r.stdout)
    assert b"message 1" in r.stderr


def shm_slot_decodes_embedded_tensor_header():
    r = run(["--shm", "slot"], vector("shm_slot_header.bin"))
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["fields"]["header_bytes"]["decoded"]["message"] == "TensorHeader"


def shm_slot_with_bad_embedded_header_reports_it():
    bad = bytearray(vector("shm_slot_header.bin"))
    bad[68:70] = (999).to_bytes(2, "little")  # embedded header's schema id
    r = run(["--shm", "slot"], bytes(bad))
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert "unknown schema id 999" in obj["fields"]["header_bytes"]["decoded"]["error"], obj


def shm_offset_reads_inside_a_file():
    data = b"\0" * 64 + vector("shm_slot_header.bin")
    r = run(["--shm", "slot", "--offset", "64"], data)
    assert r.returncode == 0, r.stderr
    r = run(["--shm", "slot", "--offset", "65"], data)  # misaligned: the length prefix is garbage
    assert r.returncode == 2 and b"headerBytes" in r.stderr, r.stderr
    r = run(["--offset", "999"], data)
    assert r.returncode == 2 and b"past the end" in r.stderr


def usage_errors_exit_2():
    assert run(["--shm", "ring"]).returncode == 2
    assert run(["--offset", "-1"]).returncode == 2
    assert run(["--bogus"]).returncode == 2
    assert run(["a", "b"]).returncode == 2


def help_exits_0_and_documents_options():
    r = run(["--help"])
    assert r.returncode == 0
    for word in (b"--shm", b"--offset", b"EXIT STATUS"):
        assert word in r.stdout, word


def unreadable_file_exits_1():
    with tempfile.TemporaryDirectory() as d:
        r = run([os.path.join(d, "missing.bin")])
    assert r.returncode == 1 and b"cannot open" in r.stderr, r.stderr


def bridge_chunk(header_len, payload, block_length=49):
    """A BridgeFrameChunk (schema 902, docs/spec/bridge.md §4) built by hand."""
    body = struct.pack("<IQQQIIIIIB", 7001, 5, 42, 0x1122, 0, 1, 0, len(payload), len(payload), 1 if header_len else 0)
    assert len(body) == 49
    hdr = struct.pack("<HHHH", block_length, 1, 902, 1)
    return hdr + body + struct.pack("<I", header_len) + b"\xAB" * header_len + struct.pack("<I", len(payload)) + payload


def bridge_chunk_decodes():
    # BR-5.1.a: every field at its offset, binary var data as hex
    r = run([], bridge_chunk(256, b"\x01\x02\x03"))
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["schema_id"] == 902 and obj["message"] == "BridgeFrameChunk", obj
    f = obj["fields"]
    assert f["stream_id"] == 7001 and f["epoch"] == "5" and f["seq"] == "42" and f["trace_id"] == "4386", f
    assert f["payload_length"] == 3 and f["header_included"] == "TRUE", f
    assert f["payload_bytes"] == {"hex": "010203"}, f
    assert obj["length"] == 8 + 49 + 4 + 256 + 4 + 3, obj


def bridge_chunk_rejects_malformed():
    # BR-5.2.c: headerBytes over its 256 cap; strict blockLength (BR-7.2.b decoder)
    r = run([], bridge_chunk(257, b"x"))
    assert r.returncode == 2 and b"exceeds maxValue 256" in r.stderr, r.stderr
    r = run([], bridge_chunk(0, b"x", block_length=50))
    assert r.returncode == 2 and b"blockLength" in r.stderr, r.stderr


def empty_input_decodes_nothing():
    r = run([], b"")
    assert r.returncode == 0 and r.stdout == b""


for t in (stdin_stream_of_three_messages, truncated_message_exits_2_after_earlier_ones,
          unknown_schema_exits_2_and_stops, unknown_template_exits_2, trailing_garbage_is_an_error,
          shm_slot_decodes_embedded_tensor_header, shm_slot_with_bad_embedded_header_reports_it,
          shm_offset_reads_inside_a_file, usage_errors_exit_2, help_exits_0_and_documents_options,
          unreadable_file_exits_1, empty_input_decodes_nothing, bridge_chunk_decodes,
          bridge_chunk_rejects_malformed):
    test(t)
for name, err in results:
    print(("ok   %s" % name) if err is None else ("FAIL %s: %s" % (name, err)))
failed = sum(1 for _, e in results if e)
print("%d passed, %d failed" % (len(results) - failed, failed))
sys.exit(1 if failed else 0)
