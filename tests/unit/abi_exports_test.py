#!/usr/bin/env python3
"""The shared library exports exactly the recorded user API.

Reads every public header (include/tensorpool/*.h and include/tensorpool/codec/*.h),
collects the non-inline function declarations and the extern variable
declarations, and compares them with the defined dynamic symbols of
libtensorpool.so (`nm -D --defined-only`) and with the recorded list
(abi/libtensorpool.symbols):

  - a declaration without TP_API or TP_INTERNAL fails (say which it is);
  - an exported symbol no header declares TP_API fails (the ABI grew by accident);
  - a TP_API function or variable the library does not export fails (the API
    lost something, or a declaration has no definition);
  - an exported symbol missing from the recorded list, or a recorded symbol no
    longer exported, fails: the ABI changed. If that is deliberate, rewrite the
    list with --write and commit it with the change.

usage: abi_exports_test.py LIBTENSORPOOL_SO INCLUDE_DIR SYMBOLS_FILE [NM]
       abi_exports_test.py --write LIBTENSORPOOL_SO SYMBOLS_FILE [NM]
                                         (record the current exports)
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
    """[(kind, name, line, marks)] declared at file scope in one header; marks is
    "TP_API", "TP_INTERNAL", "" (none) or both, space-separated."""
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
                    found.append(("defn", classify(before)[1], text.count("\n", 0, start) + 1, ""))
                stmt, start = [], None
            continue
        if depth:
            continue
        if c == ";":
            whole = "".join(stmt)
            r = classify(whole)
            if r:
                marks = set(IDENT.findall(whole)) & {"TP_API", "TP_INTERNAL"}
                found.append((r[0], r[1], text.count("\n", 0, start) + 1, " ".join(sorted(marks))))
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


SYMBOLS_HEADER = """\
# Symbols libtensorpool.so exports: the user API (abi/README.md says what is
# in it and why). One name per line, sorted. tests/unit/abi_exports_test.py
# (ctest abi_exports_public_api) fails when the exports differ from this list.
# To change the ABI deliberately, rebuild and run
#   python3 tests/unit/abi_exports_test.py --write build/libtensorpool.so abi/libtensorpool.symbols
# and commit the new list with the change.
"""


def umbrella_reach(include_dir, top="tensorpool/tensorpool.h"):
    """Headers the umbrella header includes, directly or through others."""
    seen, todo = set(), [top]
    while todo:
        h = todo.pop()
        paths = [os.path.join(d, h) for d in include_dir.split(os.pathsep)]
        paths = [p for p in paths if os.path.exists(p)]
        if h in seen or not paths:
            continue
        seen.add(h)
        text = open(paths[0], encoding="utf-8").read()
        todo += re.findall(r'^\s*#\s*include\s*[<"](tensorpool/[^>"]+)[>"]', text, flags=re.M)
    return seen


def read_symbols(path):
    with open(path, encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]


def main(argv):
    if len(argv) == 3 and argv[1] == "--list":
        for kind, name, where, marks in public_declarations(argv[2]):
            print("%s %s %s %s" % (kind, name, where, marks or "(no mark)"))
        return 0
    if len(argv) in (4, 5) and argv[1] == "--write":
        funcs, data, other = exported(argv[2], argv[4] if len(argv) == 5 else "nm")
        with open(argv[3], "w", encoding="utf-8") as f:
            f.write(SYMBOLS_HEADER + "".join(n + "\n" for n in sorted(funcs | data | other)))
        print("wrote %d symbols to %s" % (len(funcs | data | other), argv[3]))
        return 0
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    lib, include_dir, symbols_file = argv[1], argv[2], argv[3]
    nm = argv[4] if len(argv) == 5 else "nm"
    decls = public_declarations(include_dir)
    funcs, data, other = exported(lib, nm)
    problems = []
    for kind, name, where, marks in decls:
        if kind == "defn":
            problems.append("%s: %s is defined in a public header but is not static inline" % (where, name))
        elif marks not in ("TP_API", "TP_INTERNAL"):
            problems.append("%s: %s is declared with %s: mark it TP_API (user API, exported) or TP_INTERNAL "
                            "(library layer, static library only); abi/README.md says which"
                            % (where, name, "both TP_API and TP_INTERNAL" if marks else "neither TP_API nor TP_INTERNAL"))
    reach = umbrella_reach(include_dir)
    if "tensorpool/tensorpool.h" not in reach:
        problems.append("tensorpool/tensorpool.h (the umbrella header) is missing")
    for h in sorted({where.split(":")[0] for _, _, where, marks in decls if marks == "TP_API"} - reach):
        problems.append("%s declares TP_API functions but tensorpool/tensorpool.h does not include it" % h)
    want = {"func": {}, "data": {}}
    for kind, name, where, marks in decls:
        if kind in want and marks == "TP_API":
            want[kind].setdefault(name, where)
    for kind, have in (("func", funcs), ("data", data)):
        for name in sorted(set(want[kind]) - have):
            problems.append("%s: %s %s is public but %s does not export it as %s"
                            % (want[kind][name], "function" if kind == "func" else "variable", name,
                               os.path.basename(lib), "code" if kind == "func" else "data"))
    declared = set(want["func"]) | set(want["data"])
    for name in sorted((funcs | data | other) - declared):
        problems.append("%s exports %s, which no public header declares" % (os.path.basename(lib), name))
    recorded = read_symbols(symbols_file)
    if recorded != sorted(set(recorded)):
        problems.append("%s is not sorted or has duplicates" % symbols_file)
    have = funcs | data | other
    changed = 0
    for name in sorted(have - set(recorded)):
        problems.append("%s exports %s, which %s does not record" % (os.path.basename(lib), name, symbols_file))
        changed += 1
    for name in sorted(set(recorded) - have):
        problems.append("%s records %s, which %s no longer exports" % (symbols_file, name, os.path.basename(lib)))
        changed += 1
    for p in problems:
        print("FAIL " + p)
    if changed:
        print("The ABI changed. If that is deliberate, record it: rebuild, then\n"
              "  python3 tests/unit/abi_exports_test.py --write %s %s\n"
              "and commit the list with the change (removing a symbol breaks users: bump the SOVERSION)."
              % (lib, symbols_file))
    n_internal = sum(1 for d in decls if d[3] == "TP_INTERNAL")
    print("abi exports: %d functions, %d variables declared TP_API (%d declarations TP_INTERNAL); "
          "%d functions, %d variables exported; %d recorded; %d problems"
          % (len(want["func"]), len(want["data"]), n_internal, len(funcs), len(data), len(recorded), len(problems)))
    # A parser or a list that found nothing would pass vacuously.
    if len(want["func"]) < 100 or n_internal < 100 or len(recorded) < 100:
        print("FAIL the header scan found too few declarations; is INCLUDE_DIR right?")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
