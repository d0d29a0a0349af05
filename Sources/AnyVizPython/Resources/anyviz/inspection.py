"""Help text for `obj?`, `obj??` and Shift+Tab (inspect_request).

Objects are found by evaluating dotted names only (namespace lookups and getattr), never by
calling anything, so inspecting cannot run user code beyond properties. Data frames get a data
summary (shape, dtypes, memory) instead of the DataFrame class docstring, which says nothing
about the user's data.
"""
from __future__ import annotations

import builtins
import re

_MISSING = object()
_MAX_COLUMNS = 40      # dtypes listed for a wide frame before "... and N more"
_MAX_STRING_FORM = 500
_DEEP_MEMORY_ROWS = 1_000_000  # deep memory_usage scans object columns; skip it beyond this

_NAME_LEFT = re.compile(r"[\w.]*$")
_NAME_RIGHT = re.compile(r"^\w*")


def resolve(dotted: str, namespace: dict):
    """The object named by `a.b.c` in namespace (then builtins), or `_MISSING`."""
    parts = [p for p in dotted.split(".")]
    if not parts or not all(p.isidentifier() for p in parts):
        return _MISSING
    obj = namespace.get(parts[0], _MISSING)
    if obj is _MISSING:
        obj = getattr(builtins, parts[0], _MISSING)
    for part in parts[1:]:
        if obj is _MISSING:
            break
        try:
            obj = getattr(obj, part)
        except Exception:
            return _MISSING
    return obj


def name_at(code: str, cursor_pos: int) -> str:
    """The dotted name under/left of the cursor; inside a call's parentheses, the callee."""
    cursor_pos = max(0, min(cursor_pos, len(code)))
    left = _NAME_LEFT.search(code[:cursor_pos]).group(0)
    right = _NAME_RIGHT.match(code[cursor_pos:]).group(0)
    name = (left + right).strip(".")
    if name and name[0].isdigit():
        name = ""
    if name:
        return name
    # Shift+Tab inside `func(a, b|`: find the innermost open parenthesis on the left.
    depth = 0
    for i in range(cursor_pos - 1, -1, -1):
        c = code[i]
        if c in ")]}":
            depth += 1
        elif c in "([{":
            if depth == 0:
                if c != "(":
                    return ""
                callee = _NAME_LEFT.search(code[:i].rstrip()).group(0).strip(".")
                return callee
            depth -= 1
    return ""


def _fmt_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


def _frame_info(df) -> list[tuple[str, str]]:
    rows, cols = df.shape
    fields = [("Type", type(df).__name__), ("Shape", f"{rows:,} rows × {cols:,} columns")]
    dtypes = df.dtypes
    width = max((len(str(c)) for c in dtypes.index[:_MAX_COLUMNS]), default=0)
    lines = [f"{str(c):<{width}}  {t}" for c, t in zip(dtypes.index[:_MAX_COLUMNS],
                                                     dtypes.iloc[:_MAX_COLUMNS])]
    if cols > _MAX_COLUMNS:
        lines.append(f"... and {cols - _MAX_COLUMNS:,} more columns")
    fields.append(("Columns", "\n" + "\n".join(lines) if lines else "(none)"))
    deep = rows <= _DEEP_MEMORY_ROWS
    try:
        mem = int(df.memory_usage(index=True, deep=deep).sum())
        fields.append(("Memory", _fmt_bytes(mem) + ("" if deep else " (object columns not scanned)")))
    except Exception:
        pass
    return fields


def _series_info(s) -> list[tuple[str, str]]:
    return [("Type", type(s).__name__), ("Name", repr(s.name)), ("Dtype", str(s.dtype)),
            ("Length", f"{len(s):,}")]


def _signature(obj) -> str | None:
    import inspect

    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return None


def _docstring(obj) -> str | None:
    import inspect

    doc = inspect.getdoc(obj)
    return doc.strip() if doc else None


def _string_form(obj) -> str:
    try:
        text = str(obj)
    except Exception as exc:
        text = f"<str() failed: {type(exc).__name__}: {exc}>"
    if len(text) > _MAX_STRING_FORM:
        text = text[:_MAX_STRING_FORM] + " ..."
    return text


def info_text(obj, name: str, detail_level: int = 0) -> str:
    """IPython-style help text for obj: type, signature, docstring (and source at detail 1)."""
    import inspect

    from .display import _pandas_kind

    kind = _pandas_kind(obj)
    if kind == "frame":
        return _render(_frame_info(obj))
    if kind == "series":
        return _render(_series_info(obj))

    fields: list[tuple[str, str]] = []
    is_routine = inspect.isroutine(obj) or isinstance(obj, type)
    if not is_routine and not inspect.ismodule(obj):
        fields.append(("String form", _string_form(obj)))
        try:
            if hasattr(type(obj), "__len__"):
                fields.append(("Length", str(len(obj))))
        except Exception:
            pass
    fields.insert(0, ("Type", type(obj).__name__))
    if callable(obj):
        sig = _signature(obj)
        if sig is not None:
            label = "Init signature" if isinstance(obj, type) else "Signature"
            fields.append((label, f"{name.rsplit('.', 1)[-1]}{sig}"))
    target = obj if is_routine or inspect.ismodule(obj) else type(obj)
    path = _source_path(target)
    if path:
        fields.append(("File", path))
    source = None
    if detail_level >= 1:
        try:
            source = inspect.getsource(target)
        except (OSError, TypeError):
            source = None
    doc = _docstring(obj)
    if source is not None:
        fields.append(("Source", "\n" + source.rstrip()))
    elif doc:
        label = "Docstring" if (is_routine or inspect.ismodule(obj)
                                or obj.__doc__ != type(obj).__doc__) else "Class docstring"
        fields.append((label, "\n" + doc))
    else:
        fields.append(("Docstring", "<no docstring>"))
    return _render(fields)


def _source_path(target) -> str | None:
    """Where target is defined; frozen stdlib modules report `<frozen ...>`, so fall back to the
    module's file. Cells have no file (their source lives in linecache)."""
    import inspect

    try:
        path = inspect.getsourcefile(target)
    except TypeError:
        path = None
    if path is not None and path.startswith("<frozen"):
        module = inspect.getmodule(target)
        path = getattr(module, "__file__", None) if module is not None else None
    return path if path and not path.startswith("<") else None


def _render(fields: list[tuple[str, str]]) -> str:
    width = max((len(k) for k, v in fields if not v.startswith("\n")), default=0) + 2
    out = []
    for key, value in fields:
        if value.startswith("\n"):
            out.append(f"{key}:{value}")
        else:
            out.append(f"{key + ':':<{width}}{value}")
    return "\n".join(out)


def inspect_request(code: str, cursor_pos: int, detail_level: int, namespace: dict) -> dict:
    """Reply content for an inspect_request."""
    name = name_at(code, cursor_pos)
    obj = resolve(name, namespace) if name else _MISSING
    if obj is _MISSING:
        return {"found": False, "data": {}, "metadata": {}}
    try:
        text = info_text(obj, name, detail_level)
    except Exception as exc:  # a broken object must not break Shift+Tab
        text = f"Type: {type(obj).__name__}\n(could not inspect: {type(exc).__name__}: {exc})"
    return {"found": True, "data": {"text/plain": text}, "metadata": {}}
