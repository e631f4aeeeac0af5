#!/usr/bin/env python3
"""The C programs of a Markdown guide: check them, or write them out.

Every ```c block of the guide must follow one of two marker comments:

    <!-- program: NAME.c -->     the block is the complete program NAME.c
    <!-- excerpt of: NAME.c -->  the block is a run of consecutive lines of
                                 that program, verbatim

(blank lines may separate marker and block). A C block without a marker, a
program shown twice, or an excerpt whose lines are not in its program fails,
so a reader can copy any program out and build it as it stands.

usage:
  guide_programs.py check GUIDE.md [EXAMPLES_DIR]
      check the markers and excerpts; with EXAMPLES_DIR also that each
      program is identical to EXAMPLES_DIR/NAME.c and that every .c file
      there is a program of the guide (the build compiles those files).
  guide_programs.py extract GUIDE.md OUT_DIR
      write each program to OUT_DIR/NAME.c and print the names.
"""
import os
import re
import sys

MARKER = re.compile(r"<!--\s*(program|excerpt of):\s*([A-Za-z0-9_.-]+\.c)\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(path):
    """[(line, lang, marker, name, text)] for every fenced block, in order.
    marker/name come from the last marker comment before the block with only
    blank lines between them, else None."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    pending = None  # (kind, name) of a marker waiting for its block
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            start = i
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            body = "\n".join(lines[start + 1:j]) + "\n"
            kind, name = pending if pending else (None, None)
            out.append((start + 1, m.group(1), kind, name, body))
            pending = None
            i = j + 1
            continue
        mm = MARKER.search(lines[i])
        if mm:
            pending = (mm.group(1), mm.group(2))
        elif lines[i].strip():
            pending = None  # text between a marker and a block detaches it
        i += 1
    return out


def programs_and_problems(path):
    progs, excerpts, problems = {}, [], []
    for line, lang, kind, name, body in blocks(path):
        where = "%s:%d" % (path, line)
        if lang != "c":
            if kind:
                problems.append("%s: a %s marker precedes a ```%s block, not a ```c one" % (where, kind, lang))
            continue
        if kind is None:
            problems.append("%s: C block without <!-- program: NAME.c --> or <!-- excerpt of: NAME.c -->" % where)
        elif kind == "program":
            if name in progs:
                problems.append("%s: program %s is shown twice (mark one as an excerpt)" % (where, name))
            progs[name] = body
        else:
            excerpts.append((where, name, body))
    for where, name, body in excerpts:
        if name not in progs:
            problems.append("%s: excerpt of %s, which the guide does not show as a program" % (where, name))
        elif not body.strip():
            problems.append("%s: empty excerpt of %s" % (where, name))
        elif ("\n" + body) not in ("\n" + progs[name]):
            first = body.strip().splitlines()[0]
            problems.append("%s: excerpt is not verbatim in %s (first line: %s)" % (where, name, first.strip()))
    return progs, excerpts, problems


def check(guide, examples=None):
    progs, excerpts, problems = programs_and_problems(guide)
    if not progs:
        problems.append("%s: no complete program" % guide)
    if examples is not None:
        files = sorted(f for f in os.listdir(examples) if f.endswith(".c"))
        for name in sorted(progs):
            path = os.path.join(examples, name)
            if not os.path.exists(path):
                problems.append("program %s has no file %s" % (name, path))
            elif open(path, encoding="utf-8").read() != progs[name]:
                problems.append("program %s differs from %s (copy one onto the other)" % (name, path))
        for f in files:
            if f not in progs:
                problems.append("%s is not shown in %s as a program" % (os.path.join(examples, f), guide))
    for p in problems:
        print("FAIL " + p, file=sys.stderr)
    print("%s: %d programs, %d excerpts, %d problems" % (guide, len(progs), len(excerpts), len(problems)))
    return 1 if problems else 0


def extract(guide, out_dir):
    progs, _, problems = programs_and_problems(guide)
    if problems:
        for p in problems:
            print("FAIL " + p, file=sys.stderr)
        return 1
    os.makedirs(out_dir, exist_ok=True)
    for name, body in sorted(progs.items()):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.write(body)
        print(name)
    return 0


def main(argv):
    if len(argv) in (3, 4) and argv[1] == "check":
        return check(argv[2], argv[3] if len(argv) == 4 else None)
    if len(argv) == 4 and argv[1] == "extract":
        return extract(argv[2], argv[3])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
