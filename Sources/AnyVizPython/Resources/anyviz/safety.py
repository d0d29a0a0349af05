"""One escaping rule for text AnyViz did not write itself.

LLM replies, file contents (column names, cell values), URLs and error text are untrusted: a
reply carrying `<img src=x onerror=...>` that reaches a `text/html` or `text/markdown` output runs
in the notebook page with the Jupyter server's token. Every output path that carries such text
goes through this module:

* `plain(text)`: for text/plain and logs. Direction controls removed, other control
  characters made visible, length capped with a visible "… (N characters cut)" marker.
* `html_text(text)`: `plain()` then `html.escape(quote=True)`, for text inside HTML elements
  and attribute values.
* `markdown_text(text)`: `plain()` then every Markdown metacharacter backslash-escaped and
  `<` and `&` written as entities, so nothing becomes a tag, link, image, code span or math.
* `html_code(text)`: a `<code>` element (no Markdown code span: a backtick breaks out of one).
* `py_literal(text)`: a Python string literal (repr) for generated code.
* `mask_error(message)`: error text that may be sent to an LLM: short, values masked, lines
  that look like data dropped.

Escaping is idempotent in effect, not in text: escape once, at the point text enters an output.
"""
from __future__ import annotations

import html as _html
import re
import unicodedata

#: Default cap for one piece of prose (an explanation, a note, an error shown in the notebook).
TEXT_LIMIT = 4000
#: Cap for one name (column, frame) where it is shown in a heading or a table header.
NAME_LIMIT = 200
#: Cap for error text sent to the LLM in a repair request.
ERROR_LIMIT = 500
#: Cap for one sample value in a prompt.
VALUE_LIMIT = 40

#: Unicode bidirectional formatting characters (Trojan Source, CVE-2021-42574) and other
#: invisible direction marks: they make text read differently from what it is.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_BIDI_RE = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")
# C0/C1 controls except tab and newline; shown as U+FFFD so they are visible, not acted on.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# CommonMark punctuation that makes links, images, code or emphasis, plus `$` (math) and `|`
# (GFM tables). `<` and `&` are written as entities (no tag, autolink or entity can start);
# block markers (#, >, list bullets) only at the start of a line (_MD_LINE_START).
_MD_SPECIAL = frozenset("\\`*_[]!|~$")
_MD_LINE_START = re.compile(r"^([ \t]*)(\d*)([-+=#>.)])", re.M)
_MD_ENTITIES = {"<": "&lt;", "&": "&amp;"}


def has_bidi(text) -> bool:
    """Whether the text carries a direction control (worth a note: it may read misleadingly)."""
    return bool(_BIDI_RE.search(str(text)))


def strip_bidi(text) -> str:
    """The text without direction controls."""
    return _BIDI_RE.sub("", str(text))


def cap(text, limit: int = TEXT_LIMIT) -> str:
    """At most about `limit` characters; a cut is marked visibly with how much was cut."""
    text = str(text)
    if limit is None or len(text) <= limit:
        return text
    cut = len(text) - limit
    return f"{text[:limit]}… ({cut:,} characters cut)"


def _to_str(text) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        return text.decode("utf-8", "replace")
    try:
        return str(text)
    except Exception:  # an object whose __str__ fails is still shown, as its type
        return f"<{type(text).__name__}>"


def plain(text, limit: int = TEXT_LIMIT) -> str:
    """Untrusted text made safe for text/plain: capped, no direction controls, no control
    characters (tab/newline kept). The cap is applied first so a 100 MB string costs one slice."""
    text = _to_str(text)
    if limit is not None and len(text) > 2 * limit + 64:
        text = cap(text, limit)  # cheap first cut before the regexes below
        return _CONTROL_RE.sub("\ufffd", strip_bidi(text))
    text = _CONTROL_RE.sub("\ufffd", strip_bidi(text))
    return cap(text, limit)


def html_text(text, limit: int = TEXT_LIMIT) -> str:
    """Untrusted text for inside an HTML element or a quoted attribute value."""
    return _html.escape(plain(text, limit), quote=True)


def html_code(text, limit: int = TEXT_LIMIT) -> str:
    """Untrusted text shown as inline code in HTML (a backtick cannot break out of it)."""
    return f"<code>{html_text(text, limit)}</code>"


def html_block(text, limit: int = TEXT_LIMIT) -> str:
    """Multi-line untrusted text (an error message) as a preformatted HTML block."""
    return f"<pre>{html_text(text, limit)}</pre>"


def markdown_text(text, limit: int = TEXT_LIMIT) -> str:
    """Untrusted text for inside text/markdown: renders as exactly its characters."""
    text = plain(text, limit)
    out = []
    for i, ch in enumerate(text):
        if ch in _MD_ENTITIES:
            out.append(_MD_ENTITIES[ch])
        elif ch == "_" and 0 < i < len(text) - 1 and text[i - 1].isalnum() \
                and text[i + 1].isalnum():
            out.append(ch)  # intraword underscores never start emphasis (snake_case names)
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    text = _MD_LINE_START.sub(lambda m: m.group(1) + m.group(2) + "\\" + m.group(3),
                              "".join(out))
    return re.sub(r"\n{3,}", "\n\n", text)


def py_literal(text) -> str:
    """A Python string literal for a name put into generated code (never an f-string hole)."""
    return repr(str(text))


def name(text, limit: int = NAME_LIMIT) -> str:
    """A column/frame name for text/plain messages: quoted, single line, capped."""
    flat = plain(text, limit).replace("\n", "\\n").replace("\t", "\\t")
    return repr(flat)


# ------------------------------------------------------------------ error text for the LLM
_QUOTED_RE = re.compile(r"""'(?:[^'\\\n]|\\.){0,2000}'|"(?:[^"\\\n]|\\.){0,2000}\"""")
_NUMBER_RE = re.compile(r"(?<![A-Za-z_])[-+]?\d[\d_,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LONG_TOKEN_RE = re.compile(r"\S{33,}")
_LINE_NO_RE = re.compile(r"\b(line|lines|column|col|position|pos) N")


_MASKED_FIELD = re.compile(r"^\s*[\[(]?\s*(N|'…'|…)\s*[\])]?\s*$")


def _looks_like_data(line: str, masked: str) -> bool:
    """A line from a printed frame/series/array or CSV: columns separated by runs of spaces or
    tabs, a leading row label followed by values, or many separated fields that were masked
    (a list of column names is schema and stays)."""
    stripped = line.strip()
    if not stripped:
        return False
    if "\t" in stripped or re.search(r"\S {2,}\S", stripped):
        return True
    if re.match(r"^\d+\s+\S", stripped):
        return True
    for sep in (",", "|", ";"):
        fields = masked.split(sep)
        if len(fields) >= 4 and sum(bool(_MASKED_FIELD.match(f)) for f in fields) >= 3:
            return True
    return False


def mask_error(message, allowed=(), limit: int = ERROR_LIMIT, max_lines: int = 4) -> str:
    """Error text fit to send to an LLM: the shape of the problem, none of the data.

    Quoted strings become '…' unless they are in `allowed` (column names, already in the
    schema, and strings of the failing code, which the LLM wrote), numbers become N (except line/column positions), tokens over 32 characters become
    …, lines that look like printed data are dropped, and the result is at most `limit`
    characters."""
    text = plain(message, 20_000)
    allowed = {str(a) for a in allowed}

    def quoted(m):
        inner = m.group(0)[1:-1]
        return m.group(0) if inner in allowed and len(inner) <= 100 else "'…'"

    kept, dropped = [], 0
    for raw in text.splitlines():
        line = _QUOTED_RE.sub(quoted, raw)
        line = _LONG_TOKEN_RE.sub(lambda m: m.group(0) if m.group(0).strip("'") in allowed
                                  else "…", line)
        # Numbers are masked, except "line 3" style positions: they help a repair.
        line = _restore_positions(line, _NUMBER_RE.sub("N", line))
        if _looks_like_data(raw, line):
            dropped += 1
            continue
        if line.strip() and (not kept or line != kept[-1]):
            kept.append(line.rstrip())
        if len(kept) >= max_lines:
            break
    if dropped:
        kept.append(f"({dropped} line{'s' if dropped != 1 else ''} of data omitted)")
    return cap("\n".join(kept).strip(), limit)


def _restore_positions(original: str, masked: str) -> str:
    """`masked` with the numbers after 'line'/'column' put back from `original`."""
    positions = iter(m.group(2) for m in
                     re.finditer(r"\b(line|lines|column|col|position|pos) (\d+)", original))
    return _LINE_NO_RE.sub(lambda m: f"{m.group(1)} {next(positions, 'N')}", masked)


def prompt_value(value, limit: int = VALUE_LIMIT) -> str:
    """A sample value for a prompt: single line, no controls, at most `limit` characters."""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = plain(value, None if limit is None else limit * 4)
    text = text.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def prompt_name(text, limit: int = 80) -> str:
    """A column name for a prompt: a quoted literal (so an instruction in a header reads as a
    name, not as prose), capped."""
    flat = unicodedata.normalize("NFC", plain(text, limit * 4)).replace("\n", " ")
    if len(flat) > limit:
        flat = flat[:limit - 1] + "…"
    return repr(flat)
