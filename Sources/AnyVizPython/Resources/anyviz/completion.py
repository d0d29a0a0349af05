"""Tab completion: names, attributes, `%magics`, `%load` paths, strings as paths, frame/dict keys.

Only dotted names are evaluated (namespace lookups and getattr), never calls, so pressing Tab
cannot run a slow or side-effecting function. Results are exact sets, sorted and de-duplicated:
front ends show them as they are, so noise (private names, dunders) appears only when the user
typed a leading underscore.
"""
from __future__ import annotations

import builtins
import keyword
import os
import re

from .inspection import _MISSING, resolve

_IDENT_TAIL = re.compile(r"[^\W\d]\w*$|$")
_ATTR = re.compile(r"(?<![\w.)\]'\"])([^\W\d]\w*(?:\.[^\W\d]\w*)*)\.(\w*)$")
_KEY = re.compile(r"(?<![\w.])([^\W\d]\w*(?:\.[^\W\d]\w*)*)\s*\[\s*(['\"])((?:[^'\"\\]|\\.)*)$")
_MAGIC_NAME = re.compile(r"^(\s*)%(\w*)$")
_LOAD_ARG = re.compile(r"^\s*%load\s+(?:.*\s)?(['\"]?)(\S*)$")
_KEYWORDS = sorted(set(keyword.kwlist) | {"match", "case"})
_HIDDEN_BUILTINS = {"__anyviz__"}


def _visible(name: str, prefix: str) -> bool:
    return name.startswith(prefix) and (prefix.startswith("_") or not name.startswith("_"))


def _open_quote(line: str) -> tuple[str, int] | None:
    """(quote, start index of the string's content) if the line ends inside a string literal."""
    quote, start, i = None, 0, 0
    while i < len(line):
        c = line[i]
        if quote is None:
            if c == "#":
                return None
            if c in "'\"":
                quote, start = c, i + 1
        elif c == "\\":
            i += 1
        elif c == quote:
            quote = None
        i += 1
    return (quote, start) if quote else None


def _paths(fragment: str) -> list[str]:
    """Entries of the fragment's directory starting with its basename; dirs end with '/'."""
    head, base = os.path.split(fragment)
    directory = os.path.expanduser(head) if head else "."
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    out = []
    for entry in entries:
        if not entry.startswith(base) or (entry.startswith(".") and not base.startswith(".")):
            continue
        full = os.path.join(head, entry)
        if os.path.isdir(os.path.join(directory, entry)):
            full += "/"
        out.append(full)
    return out


def _keys(obj) -> list[str]:
    """String keys of a DataFrame (columns), Series (index labels) or mapping."""
    from .display import _pandas_kind

    kind = _pandas_kind(obj)
    if kind == "frame":
        keys = obj.columns
    elif kind == "series":
        keys = obj.index if len(obj.index) <= 10_000 else []
    elif isinstance(obj, dict) or (hasattr(type(obj), "keys") and hasattr(type(obj), "__getitem__")):
        try:
            keys = list(obj.keys())[:10_000]
        except Exception:
            return []
    else:
        return []
    return [k for k in keys if isinstance(k, str)]


def _names(prefix: str, namespace: dict) -> list[str]:
    names = [n for n in namespace if _visible(n, prefix)]
    names += [n for n in dir(builtins) if _visible(n, prefix) and n not in _HIDDEN_BUILTINS]
    names += [k for k in _KEYWORDS if k.startswith(prefix)]
    return names


def _attributes(obj, prefix: str) -> list[str]:
    try:
        names = dir(obj)
    except Exception:
        return []
    return [n for n in names if isinstance(n, str) and _visible(n, prefix)]


_IMPORT = re.compile(r"^(\s*(?:import|from)\s+)([A-Za-z_][\w.]*)$")


def _modules(dotted: str) -> list[str]:
    """Module names for `import x` / `from x`: top-level from sys.path (without importing
    anything), submodules of an already importable package."""
    import pkgutil
    import sys

    if "." not in dotted:
        names = set(sys.builtin_module_names)
        names.update(info.name for info in pkgutil.iter_modules())
        return [n for n in names if n.startswith(dotted) and (dotted.startswith("_") or not n.startswith("_"))]
    package, _, prefix = dotted.rpartition(".")
    try:
        import importlib

        module = importlib.import_module(package)
    except Exception:
        return []
    paths = getattr(module, "__path__", None)
    if not paths:
        return []
    return [f"{package}.{info.name}" for info in pkgutil.iter_modules(paths) if info.name.startswith(prefix)]


def complete(code: str, cursor_pos: int, namespace: dict, magics: list[str]) -> dict:
    """Reply content for a complete_request (cursor_pos counts code points, as Python strings do)."""
    cursor_pos = max(0, min(int(cursor_pos), len(code)))
    before = code[:cursor_pos]
    line = before[before.rfind("\n") + 1:]
    after_line = code[cursor_pos:].split("\n", 1)[0]
    matches: list[str] = []
    start = cursor_pos

    m = _MAGIC_NAME.match(line)
    if m is not None:
        prefix = m.group(2)
        matches = ["%" + name for name in magics if name.startswith(prefix)]
        start = cursor_pos - len(prefix) - 1
        return _reply(matches, start, cursor_pos)

    m = _IMPORT.match(line)
    if m is not None:
        dotted = m.group(2)
        return _reply(_modules(dotted), cursor_pos - len(dotted), cursor_pos)

    m = _LOAD_ARG.match(line)
    if m is not None:
        fragment = m.group(2)
        return _reply(_paths(fragment), cursor_pos - len(fragment), cursor_pos)

    m = _KEY.search(line)
    if m is not None:
        obj = resolve(m.group(1), namespace)
        quote, typed = m.group(2), m.group(3)
        if obj is not _MISSING:
            closed = after_line.startswith(quote)
            for key in _keys(obj):
                escaped = key.replace("\\", "\\\\").replace(quote, "\\" + quote)
                if escaped.startswith(typed):
                    matches.append(escaped if closed else escaped + quote + "]")
        return _reply(matches, cursor_pos - len(typed), cursor_pos)

    string = _open_quote(line)
    if string is not None:  # inside a string literal: complete it as a path
        fragment = line[string[1]:]
        return _reply(_paths(fragment), cursor_pos - len(fragment), cursor_pos)

    m = _ATTR.search(line)
    if m is not None:
        obj = resolve(m.group(1), namespace)
        prefix = m.group(2)
        if obj is not _MISSING:
            matches = _attributes(obj, prefix)
        return _reply(matches, cursor_pos - len(prefix), cursor_pos)

    prefix = _IDENT_TAIL.search(line).group(0)
    if prefix and not (len(line) > len(prefix) and line[-len(prefix) - 1] in "0123456789."):
        matches = _names(prefix, namespace)
        start = cursor_pos - len(prefix)
    return _reply(matches, start, cursor_pos)


def _reply(matches, start: int, end: int) -> dict:
    return {"matches": sorted(set(matches)), "cursor_start": start, "cursor_end": end,
            "metadata": {}}
