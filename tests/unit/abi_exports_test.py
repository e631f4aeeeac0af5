#!/usr/bin/env python3
"""The shared library exports exactly the public API.

Reads every public header (include/tensorpool/*.h and include/tensorpool/codec/*.h),
collects the non-inline function declarations and the extern variable
declarations, and compares them with the defined dynamic symbols of
libtensorpool.so (`nm -D --defined-only`):

  - a declaration without TP_API fails (it would be hidden by -fvisibility=hidden);
  - an exported symbol no public header declares fails (the ABI grew by accident);
  - a declared function or variable the library does not export fails (the API
    lost something, or a declaration has no definition).

usage: abi_exports_test.py LIBTENSORPOOL_SO INCLUDE_DIR [NM]
       abi_exports_test.py --list INCLUDE_DIR   (print the declarations found)
"""

import glob
import os
import re
import subprocess
import sys

IDENT = re.compile(r"[A-Za-z_]\w*")
# nm types of defined global symbols: code, data, read-only data, bss, weak, indirect.
FUNC_TYPES = set("TWi")
DATA_TYPES = set("DRBVGS")
# Symbols the toolchain (not our sources) may define in a shared object, e.g.
# the ODR indicators AddressSanitizer adds for each global variable.
TOOLCHAIN = re.compile(r"^(_init|_fini|_edata|_end|__bss_start|__odr_asan\..*|__odr_asan_gen_.*)$")


def blank(text, start, end):
    """text with [start, end) turned into spaces, newlines kept (line numbers)."""
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def strip_comments_and_preprocessor(text):
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    text = "".join(out)
    # Preprocessor lines (with continuations) are not declarations.
    lines = text.split("\n")
    cont = False
    for k, line in enumerate(lines):
        if cont or line.lstrip().startswith("#"):
            cont = line.endswith("\\")
            lines[k] = ""
        elif re.match(r"\s*[A-Z][A-Z0-9_]*\s*\(.*\)\s*$", line):
            lines[k] = ""  # a macro that expands to definitions, e.g. TP_SBE_ACCESSORS(u8, uint8_t)
    text = "\n".join(lines)
    # The C++ linkage block is not a scope of its own for our purposes.
    return re.sub(r'extern\s*"C"\s*\{', lambda m: " " * len(m.group(0)), text)


def strip_attributes(stmt):
    """stmt without __attribute__((...)) specifiers (balanced parentheses)."""
    while True:
        m = re.search(r"\b__attribute__\s*\(", stmt)
        if not m:
            return stmt
        depth, j = 0, m.end() - 1
        while j < len(stmt):
            if stmt[j] == "(":
                depth += 1
            elif stmt[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        stmt = stmt[:m.start()] + " " + stmt[j + 1:]


def classify(stmt):
    """(kind, name) of one top-level declaration, or None when it declares no symbol."""
    words = IDENT.findall(stmt)
    if not words or words[0] in ("typedef", "_Static_assert", "static_assert", "TP_STATIC_ASSERT") or "static" in words:
        return None
    s = strip_attributes(stmt)
    paren = s.find("(")
    if paren >= 0:
        if s[paren + 1:].lstrip().startswith("*"):  # pointer to function: a variable
            m = IDENT.search(s, s.index("*", paren))
            return ("data", m.group(0)) if m and "extern" in words else None
        names = IDENT.findall(s[:paren])
        return ("func", names[-1]) if names else None
    if "extern" in words:
        s = re.split(r"[\[=]", s)[0]
        return ("data", IDENT.findall(s)[-1])
    return None  # struct/union/enum declaration


def header_declarations(path):
    """[(kind, name, line, has_tp_api)] declared at file scope in one header."""
    text = strip_comments_and_preprocessor(open(path, encoding="utf-8").read())
    found = []
    depth = 0
    stmt, start = [], None
    for i, c in enumerate(text):
        if c == "{":
            depth += 1
            if depth == 1:
                before = "".join(stmt).strip()
            continue
        if c == "}":
            if depth == 0:  # end of the extern "C" block
                continue
            depth -= 1
            if depth == 0 and before.endswith(")"):
                # A function definition in a header: must be static inline.
                words = IDENT.findall(before)
                if "static" not in words:
                    found.append(("defn", classify(before)[1], text.count("\n", 0, start) + 1, False))
                stmt, start = [], None
            continue
        if depth:
            continue
        if c == ";":
            whole = "".join(stmt)
            r = classify(whole)
            if r:
                found.append((r[0], r[1], text.count("\n", 0, start) + 1, "TP_API" in IDENT.findall(whole)))
            stmt, start = [], None
            continue
        if start is None and not c.isspace():
            start = i
        stmt.append(c)
    return found


def public_declarations(include_dirs):
    """include_dirs: one folder, or several joined by ':' (the source tree's
    and the build tree's generated headers, e.g. tensorpool/version.h)."""
    heads = sorted((d, h) for d in include_dirs.split(os.pathsep)
                   for h in glob.glob(os.path.join(d, "tensorpool", "*.h")) +
                   glob.glob(os.path.join(d, "tensorpool", "codec", "*.h")))
    if not heads:
        sys.exit("abi_exports_test: no headers under %s/tensorpool" % include_dirs)
    decls = []
    for include_dir, h in heads:
        rel = os.path.relpath(h, include_dir)
        decls += [(kind, name, "%s:%d" % (rel, line), api) for kind, name, line, api in header_declarations(h)]
    return decls


def exported(lib, nm):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True, capture_output=True, text=True).stdout
    funcs, data, other = set(), set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        typ, name = parts[-2], parts[-1].split("@")[0]
        if TOOLCHAIN.match(name) or typ.islower() or typ in "AU":
            continue  # local, absolute or toolchain symbols
        (funcs if typ in FUNC_TYPES else data if typ in DATA_TYPES else other).add(name)
    return funcs, data, other


def main(argv):
    if len(argv) == 3 and argv[1] == "--list":
        for kind, name, where, api in public_declarations(argv[2]):
            print("%s %s %s%s" % (kind, name, where, "" if api else " (no TP_API)"))
        return 0
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    lib, include_dir = argv[1], argv[2]
    nm = argv[3] if len(argv) == 4 else "nm"
    decls = public_declarations(include_dir)
    funcs, data, other = exported(lib, nm)
    problems = []
    for kind, name, where, api in decls:
        if kind == "defn":
            problems.append("%s: %s is defined in a public header but is not static inline" % (where, name))
        elif not api:
            problems.append("%s: %s is declared without TP_API" % (where, name))
    want = {"func": {}, "data": {}}
    for kind, name, where, _ in decls:
        if kind in want:
            want[kind].setdefault(name, where)
    for kind, have in (("func", funcs), ("data", data)):
        for name in sorted(set(want[kind]) - have):
            problems.append("%s: %s %s is public but %s does not export it as %s"
                            % (want[kind][name], "function" if kind == "func" else "variable", name,
                               os.path.basename(lib), "code" if kind == "func" else "data"))
    declared = set(want["func"]) | set(want["data"])
    for name in sorted((funcs | data | other) - declared):
        problems.append("%s exports %s, which no public header declares" % (os.path.basename(lib), name))
    for p in problems:
        print("FAIL " + p)
    print("abi exports: %d functions, %d variables declared; %d functions, %d variables exported; %d problems"
          % (len(want["func"]), len(want["data"]), len(funcs), len(data), len(problems)))
    # A parser that found nothing would pass vacuously.
    if len(want["func"]) < 100 or not want["data"]:
        print("FAIL the header scan found too few declarations; is INCLUDE_DIR right?")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
