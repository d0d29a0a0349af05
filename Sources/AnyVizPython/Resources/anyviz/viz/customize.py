"""Offline `%customize`: plain words -> a list of changes to the chart's specification.

An instruction is split into clauses ("title 'Sales' and log scale y"); each clause goes to the
intent parsers below in turn, and the first that understands it returns a `Change`: a key of
the chart specification and its new value. Nothing here touches a figure: the changes are kept
by `anyviz.viz.charts` and re-applied to the ORIGINAL figure by `anyviz.viz.customize_apply`,
so they compose in any order. Axis settings are stored by role (the category axis or the value
axis of a bar chart), so they follow the axes when the orientation changes.

`parse()` is all-or-nothing: if any clause is not understood, no change is returned and the
result says which words were not understood, with close matches from the vocabulary.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from .. import safety
from ..words import outside_quotes

OFFLINE_HELP = (
    "Offline, %customize understands: title 'Text'; x label Text / y label Text; theme dark | "
    "white | minimal | presentation | ggplot | seaborn; colour red (any CSS colour or #hex); "
    "palette Pastel | Bold | Vivid | ...; colour-blind safe; log scale on x/y; linear scale; "
    "as a bar | line | area | scatter | pie chart; horizontal / vertical; stacked / grouped / "
    "100% stacked; thinner / thicker bars; sort descending / ascending / alphabetically; width "
    "900 height 500; bigger / smaller; hide legend / legend at the bottom|top|left|right; font "
    "size 14; serif / sans-serif / monospace font; show values on bars; hide gridlines; facet "
    "by <column>. `%customize --list` shows the changes made, `--undo` removes the last one. "
    "For anything else enable an LLM: %llm, or set ANYVIZ_LLM_PROVIDER with GEMINI_API_KEY or "
    "OPENAI_API_KEY.")

THEMES = {
    "dark": "plotly_dark", "night": "plotly_dark", "black": "plotly_dark",
    "white": "plotly_white", "light": "plotly_white", "clean": "simple_white",
    "minimal": "simple_white", "minimalist": "simple_white", "simple": "simple_white",
    "plain": "simple_white", "presentation": "presentation", "slides": "presentation",
    "ggplot": "ggplot2", "ggplot2": "ggplot2", "seaborn": "seaborn", "default": "plotly",
    "plotly": "plotly",
}
CHART_TARGETS = {"bar": "bar", "bars": "bar", "column": "bar", "columns": "bar", "line": "line",
                 "lines": "line", "area": "area", "scatter": "scatter", "points": "scatter",
                 "dots": "scatter", "pie": "pie", "donut": "pie"}
FONT_FAMILIES = {
    "serif": "Georgia, 'Times New Roman', serif",
    "sans": "'Open Sans', Arial, sans-serif",
    "mono": "'Courier New', monospace",
}
LEGEND_POSITIONS = ("bottom", "top", "left", "right", "inside")

#: Words that carry no instruction of their own ("make the bars thinner").
STOP_WORDS = {
    "a", "an", "the", "it", "its", "to", "of", "on", "in", "into", "as", "by", "for", "with",
    "make", "use", "using", "set", "change", "turn", "put", "please", "be", "is", "are", "more",
    "less", "much", "very", "bit", "little", "slightly", "some", "my", "this", "that", "chart",
    "plot", "graph", "figure", "them", "all", "and", "then", "also", "instead", "at", "so",
    "can", "you", "i", "want", "would", "like", "give", "me", "let", "lets", "let's", "now",
}

#: Every word some parser below acts on (for "did you mean" suggestions).
VOCABULARY = sorted({
    "title", "heading", "caption", "label", "axis", "x", "y", "xlabel", "ylabel", "rename",
    "remove", "hide", "show", "no", "without", "theme", "template", "style", "background",
    "dark", "white", "light", "minimal", "presentation", "ggplot", "seaborn", "colour",
    "color", "colours", "colors", "palette", "colourblind", "colorblind", "blind", "safe",
    "accessible", "scale", "log", "logarithmic", "linear", "horizontal", "horizontally",
    "vertical", "vertically", "sideways", "flip", "swap", "stacked", "stack", "grouped",
    "group", "overlay", "percent", "normalized", "sort", "sorted", "order", "ascending",
    "descending", "alphabetically", "highest", "lowest", "first", "width", "height", "bigger",
    "larger", "smaller", "wider", "taller", "legend", "bottom", "top", "left", "right",
    "inside", "font", "size", "serif", "sans", "monospace", "gridlines", "grid", "values",
    "numbers", "labels", "facet", "panels", "split", "bar", "bars", "line", "area", "scatter",
    "pie", "donut", "thinner", "thicker", "narrower", "slimmer", "fatter", "gap", "spacing",
    "text", "typeface", "bold", "big", "small",
})


@dataclass
class Change:
    """One change of the chart specification: `key` gets `value` (later changes win)."""
    key: str
    value: object
    description: str
    instruction: str = ""

    def to_dict(self) -> dict:
        return {"key": self.key, "value": self.value, "description": self.description,
                "instruction": self.instruction}


@dataclass
class View:
    """What the chart looks like now (after the changes so far), for clauses whose meaning
    depends on it: "log scale y" names the value axis of a vertical bar chart."""
    types: frozenset = frozenset()
    horizontal: bool = False
    width: int | None = None
    height: int | None = None
    bargap: float | None = None
    columns: tuple = ()

    @property
    def oriented(self) -> bool:
        """Bars and boxes have a category axis and a value axis that orientation swaps."""
        return bool(self.types & {"bar", "box"})

    @property
    def histogram(self) -> bool:
        return bool(self.types) and self.types <= {"histogram"}

    def role(self, axis: str) -> str:
        """The role the x or y axis plays now: 'category' or 'value'."""
        category = "y" if self.horizontal and self.oriented else "x"
        return "category" if axis == category else "value"


@dataclass
class Parsed:
    changes: list = field(default_factory=list)
    unknown: list = field(default_factory=list)       # clauses not understood
    words: list = field(default_factory=list)         # their words that mean nothing here
    suggestions: dict = field(default_factory=dict)   # word -> close vocabulary matches

    @property
    def ok(self) -> bool:
        return bool(self.changes) and not self.unknown

    def message(self) -> str:
        """What was not understood, with close matches; empty when everything was."""
        if not self.unknown:
            return ""
        parts = []
        for w in self.words:
            close = self.suggestions.get(w)
            parts.append(safety.name(w) + (f" (did you mean {' or '.join(map(repr, close))}?)"
                                     if close else ""))
        what = ("not understood: " + ", ".join(parts)) if parts else \
            "not understood as a whole: " + "; ".join(safety.name(u, 200) for u in self.unknown)
        return f"Nothing changed; {what}."


# ------------------------------------------------------------------ splitting and text
_CLAUSE_BREAK = re.compile(r"\s*(;|,|\band\b|\bthen\b|\balso\b)\s*", re.I)


def split_clauses(instruction: str) -> list[str]:
    """Split on ';', ',', ' and ', ' then ', ' also ' outside quotes (anyviz.words' rule: an
    apostrophe as in "what's" does not open a quote)."""
    s = (instruction or "").strip()
    free = outside_quotes(s)
    parts, start, i = [], 0, 0
    while i < len(s):
        m = _CLAUSE_BREAK.match(s, i) if free[i] and (s[i] in ";," or s[i].isspace()) else None
        if m:
            parts.append(s[start:i])
            start = i = m.end()
            continue
        i += 1
    parts.append(s[start:])
    return [p.strip() for p in parts if p.strip()]


def _text_after(clause: str, keyword_re: str) -> str | None:
    """The quoted text, or the words after the keyword ("title to Sales 2024" -> Sales 2024)."""
    q = re.search(r"'([^']*)'|\"([^\"]*)\"|`([^`]*)`", clause)
    if q:
        return next(g for g in q.groups() if g is not None)
    m = re.search("(?:" + keyword_re + r")\s*(?:(?:to|as|is|=|:)\s*)?(.*)$", clause, re.I)
    if m:
        text = m.group(m.lastindex).strip()
        return text or None
    return None


def _axis_in(c: str) -> str | None:
    if re.search(r"\bx\b|x[\s-]*axis|horizontal axis", c):
        return "x"
    if re.search(r"\by\b|y[\s-]*axis|vertical axis", c):
        return "y"
    return None


# ------------------------------------------------------------------ intent parsers
# Each takes (clause as typed, lower-cased clause, view) and returns a Change or None.
# They run in the order of PARSERS: more specific intents first.

def _axis_label(raw, c, view):
    m = re.search(r"\b(x|y)[\s_-]*(?:axis)?[\s_-]*(label|title|name)\b|\b(xlabel|ylabel)\b|"
                  r"\blabel\s+(?:the\s+)?(x|y)(?:[\s-]*axis)?\b|\brename\s+(?:the\s+)?(x|y)[\s-]*axis\b",
                  c)
    if not m:
        return None
    axis = m.group(1) or (m.group(3) or "")[:1] or m.group(4) or m.group(5)
    text = _text_after(raw, m.re.pattern)
    if text is None:
        return None
    role = view.role(axis)
    return Change(f"label:{role}", text, f"{axis} axis label set to {text!r}")


def _title(raw, c, view):
    if re.search(r"\b(remove|no|hide|without|drop)\b.*\btitle\b", c):
        return Change("title", "", "title removed")
    if not re.search(r"\b(title|heading|headline|call it|name it|caption)\b", c):
        return None
    text = _text_after(raw, r"\b(title|heading|headline|call it|name it|caption)\b")
    return Change("title", text, f"title set to {text!r}") if text else None


def _palette(raw, c, view):
    if re.search(r"colou?r[\s-]*blind|\bcvd\b|\baccessible\b|\bdaltonism\b", c):
        return Change("palette", "Safe", "colour-blind safe palette (px.colors.qualitative.Safe)")
    m = re.search(r"\b(palette|colou?rs?|colou?r ?scheme|colou?rway|scale|colou?rscale)\s*"
                  r"(?:to\s+|of\s+|=\s*|:\s*)?([a-z0-9_]+)", c) or \
        re.search(r"([a-z0-9_]+)\s+(palette|colou?rs|colou?rscale)\b", c)
    if not m:
        return None
    keyword = re.compile(r"palette|colou?rs?|colou?r ?scheme|colou?rway|scale|colou?rscale")
    name = m.group(2) if keyword.fullmatch(m.group(1)) else m.group(1)
    pal = _qualitative(name)
    if pal:
        return Change("palette", pal, f"palette {pal}")
    scale = _sequential(name)
    if scale:
        return Change("colorscale", scale, f"colour scale {scale}")
    return None


def _colour(raw, c, view):
    if re.search(r"\b(theme|background|mode|template|style)\b", c):
        return None
    hexm = re.search(r"#[0-9a-f]{6}\b|#[0-9a-f]{3}\b", c)
    colors = _named_colors()
    words = re.findall(r"[a-z]+", c)
    named = next((w for w in words if w in colors and w not in ("white", "black") or
                  (w in ("white", "black") and re.search(r"colou?r|bars?|lines?|points?|markers?", c))),
                 None)
    col = hexm.group(0) if hexm else named
    return Change("colour", col, f"colour {col}") if col else None


def _theme(raw, c, view):
    for word, template in THEMES.items():
        if re.search(rf"\b{word}\b", c) and (
                re.search(r"\b(theme|mode|template|style|background|look)\b", c) or len(c.split()) <= 3):
            if word in ("default", "plotly") and not re.search(r"\b(theme|template|style)\b", c):
                continue
            return Change("theme", template, f"theme {template}")
    return None


def _scale(raw, c, view):
    log = re.search(r"\blog(arithmic)?\b", c)
    if not log and not re.search(r"\blinear\b", c):
        return None
    kind = "log" if log else "linear"
    axis = _axis_in(c)
    if view.oriented or axis is None:
        # Bars: a log scale belongs on the value axis whichever way the bars point;
        # a histogram's values are on x.
        if view.histogram and axis is None:
            return Change("scale:category", kind, f"{kind} scale on x")
        role = "value" if view.oriented or axis is None else view.role(axis)
        shown = "x" if (view.horizontal and view.oriented) else "y"
        note = "" if axis in (None, shown) else f" (the {axis} axis holds the categories)"
        return Change(f"scale:{role}", kind, f"{kind} scale on {shown}{note}")
    return Change(f"scale:{view.role(axis)}", kind, f"{kind} scale on {axis}")


def _orientation(raw, c, view):
    if re.search(r"\bhorizontal(ly)?\b|\bsideways\b|\bflip\b|\bswap axes\b", c):
        return Change("orientation", "h", "horizontal bars")
    if re.search(r"\bvertical(ly)?\b|\bupright\b", c):
        return Change("orientation", "v", "vertical bars")
    return None


def _bar_mode(raw, c, view):
    if re.search(r"100\s*%|\bpercent(age)?\s+stack|\bnormali[sz]ed?\b", c):
        return Change("barmode", "percent", "100% stacked bars")
    if re.search(r"\bstack(ed)?\b", c):
        return Change("barmode", "stack", "stacked")
    if re.search(r"\b(group(ed)?|side[\s-]+by[\s-]+side|clustered|unstack(ed)?)\b", c):
        return Change("barmode", "group", "grouped bars")
    if re.search(r"\boverlay|overlap", c):
        return Change("barmode", "overlay", "overlaid")
    return None


def _bar_width(raw, c, view):
    if not re.search(r"\b(bars?|columns?|gaps?|spacing)\b", c):
        return None
    thinner = re.search(r"\b(thinner|narrower|slimmer|skinnier|thin|narrow|slim)\b|"
                        r"\b(more|bigger|larger|wider)\s+(gaps?|spacing)\b", c)
    thicker = re.search(r"\b(thicker|wider|fatter|broader|thick|wide|fat)\b|"
                        r"\b(less|smaller|no)\s+(gaps?|spacing)\b", c)
    if thinner:
        return Change("bargap", "thinner", "thinner bars")
    if thicker:
        return Change("bargap", "thicker", "thicker bars")
    return None


def _sort(raw, c, view):
    if not re.search(r"\b(sort|sorted|order|ordered|rank|ranked)\b|\b(highest|largest|biggest|lowest|"
                     r"smallest)\s+first\b|\b(ascending|descending|alphabetical(ly)?)\b", c):
        return None
    if re.search(r"alphabet|\bname\b|a-z|a to z", c):
        return Change("sort", "alphabetical", "sorted alphabetically")
    if re.search(r"\b(ascending|asc|lowest first|smallest first|increasing)\b", c):
        return Change("sort", "ascending", "sorted by value, lowest first")
    return Change("sort", "descending", "sorted by value, highest first")


def _size(raw, c, view):
    w = re.search(r"\bwidth\s*(?:=|:|of|to)?\s*(\d{2,4})", c)
    h = re.search(r"\bheight\s*(?:=|:|of|to)?\s*(\d{2,4})", c)
    wh = re.search(r"\b(\d{3,4})\s*(?:x|×|by|\*)\s*(\d{3,4})\b", c)
    if w or h or wh:
        size = {}
        if wh:
            size = {"width": int(wh.group(1)), "height": int(wh.group(2))}
        if w:
            size["width"] = int(w.group(1))
        if h:
            size["height"] = int(h.group(1))
        return Change("size", size, "size " + " x ".join(str(v) for v in size.values()))
    if re.search(r"\b(font|text|labels?|typeface)\b", c):
        return None  # "bigger font" is the font's size
    cur_w, cur_h = view.width or 800, view.height or 500
    for pattern, (fw, fh), what in ((r"\b(bigger|larger|enlarge|huge)\b", (1.3, 1.3), "bigger"),
                                    (r"\b(smaller|shrink|compact|tiny)\b", (0.75, 0.75), "smaller"),
                                    (r"\bwider\b", (1.4, 1), "wider"),
                                    (r"\btaller\b", (1, 1.4), "taller")):
        if re.search(pattern, c):
            return Change("size", {"width": int(cur_w * fw), "height": int(cur_h * fh)}, what)
    return None


def _font(raw, c, view):
    if not re.search(r"\b(font|fonts|text|labels?|typeface|serif|sans|monospace)\b", c):
        return None
    if re.search(r"\bsans[\s-]*serif\b|\bsans\b", c):
        return Change("font_family", FONT_FAMILIES["sans"], "sans-serif font")
    if re.search(r"\bserif\b", c):
        return Change("font_family", FONT_FAMILIES["serif"], "serif font")
    if re.search(r"\bmono(space|spaced)?\b|\btypewriter\b", c):
        return Change("font_family", FONT_FAMILIES["mono"], "monospace font")
    if re.search(r"\b(on|show|add|display)\b.*\bbars?\b", c):
        return None
    if re.search(r"\b(size|bigger|larger|smaller|tiny|huge|\d+)\b", c):
        n = re.search(r"(\d{1,2})", c)
        size = int(n.group(1)) if n else (10 if re.search(r"smaller|tiny", c) else 16)
        return Change("font_size", size, f"font size {size}")
    return None


def _legend(raw, c, view):
    if not re.search(r"\blegend\b", c):
        return None
    if re.search(r"\b(hide|remove|no|without|off|drop|disable)\b", c):
        return Change("legend", "hidden", "legend hidden")
    for word in LEGEND_POSITIONS:
        if re.search(rf"\b{word}\b", c):
            return Change("legend", word, f"legend at the {word}")
    if re.search(r"\b(show|add|display|on)\b", c):
        return Change("legend", "shown", "legend shown")
    return None


def _grid(raw, c, view):
    if not re.search(r"\bgrid(lines?)?\b", c):
        return None
    show = not re.search(r"\b(hide|remove|no|without|off)\b", c)
    return Change("grid", show, "gridlines " + ("shown" if show else "hidden"))


def _data_labels(raw, c, view):
    if re.search(r"\b(labels?|values?|numbers?|annotat\w*|text)\b", c) and \
            re.search(r"\b(show|add|display|put|with|on|label)\b", c):
        hide = re.search(r"\b(hide|remove|no|without|off)\b", c)
        return Change("data_labels", not hide, "values " + ("hidden" if hide else "shown on the marks"))
    return None


def _facet(raw, c, view):
    m = re.search(r"\b(facet(?:ed)?|split|panels?|small multiples|subplots?|separate (?:charts|plots|"
                  r"panels))\b(?:\s+\w+)*?\s+(?:by|per|on|for|of)\s+(.+)$", c)
    if not m or not view.columns:
        return None
    from anyviz.errors import AnyVizError

    from .nlp import ColumnMatcher
    words = re.sub(r"^(the|each|every)\s+", "", m.group(2).strip())
    notes: list = []
    try:
        col = ColumnMatcher(list(view.columns)).resolve(words.strip(" '\"`."), notes)
    except AnyVizError:
        return None
    return Change("facet", col, f"one panel per {col}" + (f" ({'; '.join(notes)})" if notes else ""))


def _chart_type(raw, c, view):
    m = re.search(r"\b(bar|bars|column|columns|line|lines|area|scatter|points|dots|pie|donut)\b", c)
    if m and (re.search(r"\b(chart|plot|graph|as|into|to|instead|switch|change|convert|turn)\b", c)
              or len(c.split()) <= 2):
        target = CHART_TARGETS[m.group(1)]
        return Change("chart", target, f"{target} chart")
    return None


PARSERS = (_axis_label, _title, _bar_width, _font, _palette, _colour, _theme, _scale,
           _orientation, _bar_mode, _sort, _size, _legend, _grid, _data_labels, _facet,
           _chart_type)


# ------------------------------------------------------------------ parse
def parse_clause(clause: str, view: View) -> Change | None:
    c = clause.lower().strip()
    for parser in PARSERS:
        got = parser(clause, c, view)
        if got is not None:
            got.instruction = clause
            return got
    return None


def parse(instruction: str, view: View, advance=None) -> Parsed:
    """Every clause of `instruction` as a Change; all or nothing (see the module doc).

    `advance(view, change) -> view` lets a clause see the chart as the clauses before it left
    it ("horizontal and log scale x" puts the log on the new x axis)."""
    out = Parsed()
    for clause in split_clauses(instruction):
        change = parse_clause(clause, view)
        if change is None:
            out.unknown.append(clause)
            continue
        out.changes.append(change)
        if advance is not None:
            view = advance(view, change)
    if out.unknown:
        known = set(VOCABULARY) | STOP_WORDS | _named_colors()
        for clause in out.unknown:
            for w in re.findall(r"[a-z][a-z0-9'-]*", clause.lower()):
                if w not in known and w not in out.words:
                    out.words.append(w)
                    close = difflib.get_close_matches(w, VOCABULARY, n=2, cutoff=0.75)
                    if close:
                        out.suggestions[w] = close
        out.changes = []
    return out


# ------------------------------------------------------------------ plotly names
def _named_colors() -> set:
    try:
        from _plotly_utils.basevalidators import ColorValidator
        return set(ColorValidator.named_colors)
    except Exception:  # pragma: no cover - plotly internals moved
        return {"red", "green", "blue", "black", "white", "gray", "grey", "orange", "purple",
                "navy", "teal", "pink", "brown", "gold", "crimson", "steelblue", "darkblue"}


def _qualitative(name: str) -> str | None:
    import plotly.express as px
    names = {n.lower(): n for n in dir(px.colors.qualitative) if not n.startswith("_") and n != "swatches"}
    return names.get(name.lower())


def _sequential(name: str) -> str | None:
    import plotly.express as px
    for mod in (px.colors.sequential, px.colors.diverging):
        names = {n.lower(): n for n in dir(mod) if not n.startswith("_") and n != "swatches"}
        if name.lower() in names:
            return names[name.lower()]
    return None
