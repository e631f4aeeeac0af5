#!/usr/bin/env python3
"""The manual pages say what the help says, for every command.

usage: man_pages_test.py TP_BINARY MAN_DIR

MAN_DIR holds the pages the build made (man1/, man7/). Checks:
  - there is exactly one page per command of `tp --help` (tp.1, tp-COMMAND.1)
    plus tensorpool.7, so a new command cannot ship without its page;
  - each page holds the words of its help text, in order (the page is read
    back from its roff), so a page cannot drift from the binary;
  - each help text has the sections a manual page needs, and tp(1) refers to
    every command's page;
  - `tp help COMMAND` prints what `tp COMMAND --help` prints;
  - the roff uses only the macros the generator writes, and, where man and
    groff are installed, renders without warnings to the same words.
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import man_from_help as mh  # noqa: E402

REQUIRED = {1: ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "SEE ALSO"),
            7: ("NAME", "DESCRIPTION", "SEE ALSO")}
MACROS = re.compile(r'^\.(TH|SH|PP|TP|nf|fi|br|nh|ad l|\\").*$')

TP, MAN = sys.argv[1], sys.argv[2]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def page_path(page, section):
    return os.path.join(MAN, "man%d" % section, "%s.%d" % (page, section))


def rendered_words(path):
    """The words `man -l` shows, without its header and footer lines."""
    env = dict(os.environ, LC_ALL="C", MANWIDTH="80")
    r = subprocess.run(["man", "-l", path], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return None, r.stderr
    lines = [l for l in re.sub(".\x08", "", r.stdout).split("\n") if l.strip()]
    return " ".join(lines[1:-1]).split(), r.stderr


def main():
    pages = mh.pages(TP)
    want = {(p, s) for p, s, _ in pages}
    have = {(f.rsplit(".", 1)[0], s) for s in (1, 7) if os.path.isdir(os.path.join(MAN, "man%d" % s))
            for f in os.listdir(os.path.join(MAN, "man%d" % s))}
    for p, s in sorted(want - have):
        fail("%s(%d): no page in %s" % (p, s, MAN))
    for p, s in sorted(have - want):
        fail("%s(%d): a page for no command" % (p, s))
    if len(want) < 3:
        fail("tp --help lists no commands")

    man = shutil.which("man")
    groff = shutil.which("groff")
    for page, section, text in pages:
        sections = [t for t, _ in mh.parse_help(text, page)]
        missing = [t for t in REQUIRED[section] if t not in sections]
        if missing:
            fail("%s: the help lacks %s" % (mh.help_command(page), ", ".join(missing)))
        if not os.path.exists(page_path(page, section)):
            continue
        with open(page_path(page, section), encoding="utf-8") as f:
            roff = f.read()
        help_words, page_words = mh.help_words(text, page), mh.roff_to_text(roff)
        if help_words != page_words:
            i = next((k for k, (a, b) in enumerate(zip(help_words, page_words)) if a != b),
                     min(len(help_words), len(page_words)))
            fail("%s(%d) differs from `%s` at word %d: help %r, page %r"
                 % (page, section, mh.help_command(page), i, help_words[i:i + 6], page_words[i:i + 6]))
        bad = [l for l in roff.split("\n") if l.startswith(".") and not MACROS.match(l)]
        if bad:
            fail("%s(%d): unexpected roff requests %r" % (page, section, bad[:3]))
        if page.startswith("tp-"):
            r = subprocess.run([TP, "help", page[3:]], capture_output=True, text=True)
            if r.returncode != 0 or r.stdout != text:
                fail("tp help %s differs from tp %s --help" % (page[3:], page[3:]))
            if "tp(1)" not in text.split("SEE ALSO", 1)[-1]:
                fail("%s: SEE ALSO does not name tp(1)" % page)
        if groff:
            r = subprocess.run([groff, "-man", "-ww", "-z", page_path(page, section)],
                               capture_output=True, text=True)
            if r.returncode != 0 or r.stderr.strip():
                fail("%s(%d): groff warns: %s" % (page, section, r.stderr.strip()[:300]))
        if man:
            words, err = rendered_words(page_path(page, section))
            if words is None:
                fail("%s(%d): man -l failed: %s" % (page, section, err.strip()[:300]))
            elif words != page_words:
                i = next((k for k, (a, b) in enumerate(zip(words, page_words)) if a != b),
                         min(len(words), len(page_words)))
                fail("%s(%d): man -l shows %r where the page has %r"
                     % (page, section, words[i:i + 6], page_words[i:i + 6]))

    see_also = pages[0][2].split("SEE ALSO", 1)[-1]
    for page, section, _ in pages[1:]:
        if "%s(%d)" % (page, section) not in see_also:
            fail("tp(1): SEE ALSO does not name %s(%d)" % (page, section))
    r = subprocess.run([TP, "help"], capture_output=True, text=True)
    if r.returncode != 0 or r.stdout != pages[0][2]:
        fail("tp help differs from tp --help")

    print("man pages: %d pages, %d checked with man, %d with groff; %d problems"
          % (len(pages), len(pages) if man else 0, len(pages) if groff else 0, len(failures)))
    if not man:
        print("note: man is not installed, so rendering with man was not checked (the roff was)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
