#!/usr/bin/env python3
"""tools/guide_programs.py refuses what it must refuse: a C block without a
marker, an excerpt that is not verbatim (or not whole lines), an excerpt of
a program the guide does not show, a program shown twice, a program that
differs from its file in the examples dir, an example file the guide does
not show; and accepts a guide that follows the rules."""
import os
import subprocess
import sys
import tempfile

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "guide_programs.py")
PROG = "int main(void)\n{\n    int x = 1;\n    return x - 1;\n}\n"
GOOD = ("# g\n\n<!-- program: a.c -->\n```c\n" + PROG + "```\n\ntext\n\n<!-- excerpt of: a.c -->\n\n"
        "```c\n    int x = 1;\n```\n\n```sh\necho not C\n```\n")

CASES = [
    ("good", GOOD, {"a.c": PROG}, 0),
    ("unmarked C block", GOOD + "\n```c\nint y;\n```\n", {"a.c": PROG}, 1),
    ("marker detached by text", GOOD.replace("<!-- excerpt of: a.c -->\n\n", "<!-- excerpt of: a.c -->\nwords\n"),
     {"a.c": PROG}, 1),
    ("excerpt not verbatim", GOOD.replace("    int x = 1;\n```", "    int x = 2;\n```"), {"a.c": PROG}, 1),
    ("excerpt not whole lines", GOOD.replace("    int x = 1;\n```", "x = 1;\n```"), {"a.c": PROG}, 1),
    ("excerpt of unknown program", GOOD.replace("excerpt of: a.c", "excerpt of: b.c"), {"a.c": PROG}, 1),
    ("program twice", GOOD + "\n<!-- program: a.c -->\n```c\n" + PROG + "```\n", {"a.c": PROG}, 1),
    ("program differs from its file", GOOD, {"a.c": PROG.replace("x - 1", "x")}, 1),
    ("example file not in the guide", GOOD, {"a.c": PROG, "b.c": PROG}, 1),
]


def run(guide_text, files):
    with tempfile.TemporaryDirectory() as tmp:
        guide = os.path.join(tmp, "guide.md")
        open(guide, "w").write(guide_text)
        ex = os.path.join(tmp, "examples")
        os.mkdir(ex)
        for name, body in files.items():
            open(os.path.join(ex, name), "w").write(body)
        check = subprocess.run([sys.executable, TOOL, "check", guide, ex], capture_output=True, text=True)
        out = os.path.join(tmp, "out")
        extract = subprocess.run([sys.executable, TOOL, "extract", guide, out], capture_output=True, text=True)
        extracted = open(os.path.join(out, "a.c")).read() if extract.returncode == 0 else None
        return check.returncode, extract.returncode, extracted


def main():
    bad = 0
    for name, text, files, want in CASES:
        rc, xrc, extracted = run(text, files)
        ok = (rc != 0) == (want != 0)
        if name == "good":
            ok = ok and xrc == 0 and extracted == PROG
        print("%s %s: check exit %d, extract exit %d" % ("ok" if ok else "FAIL", name, rc, xrc))
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
