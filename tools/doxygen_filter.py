#!/usr/bin/env python3
"""Doxygen INPUT_FILTER for tensorpool's public headers.

The headers are commented in plain C (`/* ... */`), for people reading the
header, not in Doxygen's `/** ... */` style. Rather than rewrite every
comment, this filter shows Doxygen each header with its comments turned into
documentation blocks:

  - the comment that opens the file (before any code) documents the file
    (`/** @file`);
  - a comment after code on the same line documents that member (`/**<`);
  - any other comment outside a function body documents what follows it
    (`/**`);
  - divider comments (`/* ---- name ---- */`), comments inside function
    bodies and comments inside a parameter list stay plain.

Inside a converted comment the characters Doxygen would read as commands or
markup (backslash, @, <, >, &) are escaped, so the text shows as written.

usage: doxygen_filter.py FILE   (the filtered text goes to stdout)
"""
import re
import sys

DIVIDER = re.compile(r"^/\*\s*(-{3,}|={3,})")
ESCAPE = {"\\": "\\\\", "@": "\\@", "<": "\\<", ">": "\\>", "&": "\\&"}


def escape(body):
    return "".join(ESCAPE.get(c, c) for c in body)


def convert(text):
    out = []
    i, n = 0, len(text)
    seen_code = False
    line_has_code = False  # code before the current position on this line
    stack = []  # for each open brace: True when it opens a function body
    last_code = ""  # last non-space code character
    parens = 0  # depth of ( ) around the current position
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            comment = text[i:j]
            in_body = any(stack) or parens > 0
            if in_body or DIVIDER.match(comment) or comment.startswith(("/**", "/*!")):
                out.append(comment)
            else:
                inner = escape(comment[2:-2])
                if not seen_code:
                    out.append("/** @file\n" + inner + "*/")
                    seen_code = True  # only the first comment documents the file
                elif line_has_code:
                    out.append("/**<" + inner + "*/")
                else:
                    out.append("/**" + inner + "*/")
            i = j
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
            line_has_code = seen_code = True
            last_code = c
            continue
        if c == "\n":
            line_has_code = False
        elif not c.isspace():
            line_has_code = True
            seen_code = True
            if c == "(":
                parens += 1
            elif c == ")" and parens:
                parens -= 1
            elif c == "{":
                stack.append(last_code == ")")
            elif c == "}" and stack:
                stack.pop()
            last_code = c
        out.append(c)
        i += 1
    return "".join(out)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        sys.stdout.write(convert(f.read()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
