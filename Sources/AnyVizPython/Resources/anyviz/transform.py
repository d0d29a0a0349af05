"""Turn notebook syntax (`%magic`, `obj?`, `?obj`, `!cmd`) into plain Python, line for line.

Each special line becomes exactly one line of Python that calls the `__anyviz__` helper object the
runtime installs in builtins, so line numbers stay the same and tracebacks (which read the
*original* cell source from linecache) point at the line the user wrote.

A line is only special when it starts a new statement: lines inside a multi-line string, inside
open brackets or after a backslash continuation are left alone, so `'%not a magic'` inside a triple-quoted string and a `%`
operator at the start of a continuation line keep their Python meaning.
"""
from __future__ import annotations

import re

#: Name of the helper object in builtins (see `anyviz.runtime._CellHelpers`).
HELPER = "__anyviz__"

_NAME = r"[^\W\d]\w*"
_DOTTED = rf"{_NAME}(?:\s*\.\s*{_NAME})*"
_MAGIC = re.compile(r"%(?P<cell>%?)(?P<name>\w+)(?P<help>\?{0,2})(?P<rest>.*)$", re.S)
_HELP_BEFORE = re.compile(rf"(?P<q>\?{{1,2}})\s*(?P<name>{_DOTTED})\s*$")
_HELP_AFTER = re.compile(rf"(?P<name>{_DOTTED})\s*(?P<q>\?{{1,2}})\s*$")
# `x = %magic args` / `x = !cmd`: an assignment whose right-hand side is notebook syntax.
_ASSIGN = re.compile(rf"(?P<lhs>{_DOTTED}\s*=\s*)(?P<rhs>[%!].*)$", re.S)

_OPEN = "([{"
_CLOSE = ")]}"


def _call(func: str, *args) -> str:
    return f"{HELPER}.{func}(" + ", ".join(repr(a) for a in args) + ")"


def _special(stmt: str) -> str | None:
    """Python for one statement written in notebook syntax, or None if it is plain Python."""
    if stmt.startswith("%"):
        m = _MAGIC.match(stmt)
        if m is None:
            return None
        name, rest = m["name"], m["rest"].strip()
        if m["cell"]:
            return _call("cell_magic", name, rest)
        if m["help"]:
            return _call("magic", name + "?", "")
        return _call("magic", name, rest)
    if stmt.startswith("!"):
        return _call("shell", stmt[1:].strip())
    m = _HELP_BEFORE.match(stmt) or _HELP_AFTER.match(stmt)
    if m is not None:
        return _call("help", re.sub(r"\s+", "", m["name"]), len(m["q"]) - 1)
    m = _ASSIGN.match(stmt)
    if m is not None:
        rhs = _special(m["rhs"])
        if rhs is not None:
            return m["lhs"] + rhs
    return None


class _Scanner:
    """Tracks whether the next line starts a statement (not in a string, bracket or continuation)."""

    def __init__(self):
        self.quote: str | None = None  # the open string's quote ("'", '"', "'''" or '"""')
        self.depth = 0
        self.continued = False

    @property
    def at_statement_start(self) -> bool:
        return self.quote is None and self.depth == 0 and not self.continued

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        self.continued = False
        while i < n:
            c = line[i]
            if self.quote is not None:
                if c == "\\":
                    if i == n - 1:  # backslash-newline inside a string continues it
                        self.continued = len(self.quote) == 1
                    i += 2
                    continue
                if line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                    continue
                i += 1
                continue
            if c == "#":
                break
            if c in "'\"":
                triple = line[i:i + 3]
                self.quote = triple if triple in ("'''", '"""') else c
                i += len(self.quote)
                continue
            if c in _OPEN:
                self.depth += 1
            elif c in _CLOSE:
                self.depth = max(0, self.depth - 1)
            elif c == "\\" and i == n - 1:
                self.continued = True
            i += 1
        if self.quote is not None and len(self.quote) == 1 and not self.continued:
            self.quote = None  # unterminated one-line string: Python reports it, we move on
        if self.quote is not None and len(self.quote) == 1:
            self.continued = False  # the string itself carries the continuation


def transform_cell(code: str) -> str:
    """Python source with the same number of lines where notebook-only syntax became calls."""
    lines = code.split("\n")
    scanner = _Scanner()
    out = []
    for line in lines:
        if scanner.at_statement_start:
            body = line.lstrip()
            indent = line[: len(line) - len(body)]
            replaced = _special(body.rstrip("\r")) if body[:1] in "%!?" or "?" in body or "=" in body else None
            if replaced is not None:
                out.append(indent + replaced)
                continue
        scanner.feed(line)
        out.append(line)
    return "\n".join(out)


def ends_with_semicolon(source: str) -> bool:
    """True when the cell's last token is `;` (IPython's "don't show the result" convention)."""
    import io
    import tokenize

    last = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                            tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            last = tok
    except (tokenize.TokenError, SyntaxError):
        return False
    return last is not None and last.type == tokenize.OP and last.string == ";"
