"""Request -> Reading: what the user asked for, before any chart decision.

A Reading is the explicit parse of one request: column mentions with the role their
connector gives them ("for each X" groups, "the average of Y" measures, "split by Z"
colours), the aggregate words, the count intent ("number of orders", "how many flights",
"visits" -> rows), the chart word, and the clauses read by clauses.py (sort, top N, time
bin, axes, filters). spec_builder.py turns a Reading into a chart specification.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import clauses
from .nlp import (CHART_WORDS, STOPWORDS, ColumnMatcher, Filter, Mention, singular, span_key, tokenize,
                  value_filters, value_index)
from .plan_schema import FrameInfo, words_of

AGG_BEFORE = {
    "average": "mean", "avg": "mean", "mean": "mean", "averaged": "mean",
    "total": "sum", "sum": "sum", "summed": "sum", "cumulative": "sum", "combined": "sum",
    "median": "median",
    "maximum": "max", "max": "max", "maximal": "max", "highest": "max", "largest": "max",
    "biggest": "max", "greatest": "max", "oldest": "max", "longest": "max", "top": "max",
    "minimum": "min", "min": "min", "minimal": "min", "lowest": "min", "smallest": "min",
    "youngest": "min", "cheapest": "min", "shortest": "min", "least": "min",
    "count": "count", "number": "count", "amount": "count", "frequency": "count", "counts": "count",
    "distinct": "nunique", "unique": "nunique",
}
#: Nouns that, in "number of <noun>" or "how many <noun>", mean rows when no column matches.
ROW_NOUNS = {"row", "rows", "record", "records", "entry", "entries", "item", "items", "visit",
             "visits", "observation", "observations", "case", "cases", "event", "events", "time",
             "times", "occurrence", "occurrences", "thing", "things", "one", "ones", "them", "it",
             "people", "person", "persons", "member", "members"}
COLOR_VERBS = {"colored", "coloured", "color", "colour", "split", "broken", "stacked", "segmented",
               "separated", "hue", "stack", "grouped", "breakdown", "series"}
FACET_VERBS = {"facet", "faceted", "panel", "panels", "subplot", "subplots"}
#: Words that name a relationship with the dependent variable first: "how does A relate to B".
DEPENDS = re.compile(r"\b(relate[sd]? to|depends? on|vary with|varies with|as a function of|"
                     r"change[sd]? with|affected by|explained by|driven by|against|versus|vs\.?)\b")


@dataclass
class Column:
    """One column mention and what the words around it say about it."""
    name: str
    start: int                # token index
    said: str
    agg: str | None = None    # aggregate word in front: "average price"
    role: str = "subject"     # subject | group | color | facet
    connector: str = ""
    how: str = "exact"        # exact | alias | partial | fuzzy
    after_of: bool = False    # "the results of all festivals": the owner of another column's values


@dataclass
class Reading:
    text: str
    columns: list = field(default_factory=list)      # Column, in request order
    chart: str | None = None
    stacked: bool = False
    grouped_bars: bool = False
    horizontal: bool = False
    count: bool = False          # rows are counted ("number of orders", "how many")
    count_noun: str | None = None
    agg: str | None = None       # an aggregate word not attached to a column
    sort: tuple | None = None    # (target, order): target x | y | col:<words> | None
    top: tuple | None = None
    bin: tuple | None = None     # (column or None, unit)
    axes: dict = field(default_factory=dict)         # x / y -> column
    axis_agg: str | None = None  # "y axis the average of school id"
    filters: list = field(default_factory=list)
    over_time: bool = False
    share: bool = False
    relationship: bool = False
    distribution: bool = False
    dependent_first: bool = False  # "A against B", "how does A relate to B": A is y
    map: bool = False
    slot_unknown: list = field(default_factory=list)  # unknown words where a column belongs
    row_noun: bool = False       # the request names the frame's rows ("products", "orders")
    entity: bool = False         # "for each cinema": the frame's rows, labelled by a name column
    unknown: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def named(self, role: str | None = None) -> list[str]:
        out = [c.name for c in self.columns if role is None or c.role == role]
        return list(dict.fromkeys(out))


def read(text: str, frame: FrameInfo, matcher: ColumnMatcher, frame_name: str = "df") -> Reading:
    """Parse `text` into a Reading (never raises for unknown words: they are listed)."""
    r = Reading(text=text)
    low = text.lower()
    spans: list = []
    r.sort, s = clauses.read_sort(text)
    spans += s
    r.top, s = clauses.read_top(text)
    spans += s
    r.bin, s = clauses.read_bin(text)
    bin_spans = s
    axes, s = clauses.read_axes(text)
    axis_spans = s
    r.filters, s = clauses.read_filters(text, frame, matcher, spans)
    spans += s
    for axis, words in axes.items():
        agg_m = re.match(r"(?:the\s+)?(average|mean|avg|sum|total|maximum|maximal|max|minimum|minimal|min|"
                         r"median|number|count|how many|amount|highest|lowest)\b(?:\s+of)?", words)
        col = _resolve_words(words[agg_m.end():] if agg_m else words, matcher, frame, r)
        agg = AGG_BEFORE.get(agg_m.group(1).split()[0]) if agg_m else None
        if agg_m and agg_m.group(1) == "how many":
            agg = "count"
        if agg == "count" or (col is None and re.search(r"\b(number|count|how many|amount)\b", words)):
            r.axes[axis] = "*"
            r.count = True
        elif col:
            r.axes[axis] = col
            if agg:
                r.axis_agg = agg
    spans += axis_spans
    if r.bin and r.bin[0]:
        col = _resolve_words(r.bin[0], matcher, frame, r)
        times = [c.name for c in frame.of_kind("temporal")]
        if col not in times and times:  # "bin the payment day by weekday": a date column is meant
            words = set(r.bin[0].split())
            col = max(times, key=lambda c: len(words & set(words_of(c))))
        r.bin = (col, r.bin[1])
    spans += bin_spans

    masked = clauses.mask(text, spans)
    tokens = tokenize(masked)
    _read_keywords(tokens, r, low, matcher)
    notes: list = []
    # "Progress Party", 'Bob Fosse' (and a value spelt like a column's initials) before column words
    _read_values(tokens, r, frame, min_words=2, initials=matcher.initials)
    _read_flags(tokens, r, frame)
    mentions = matcher.find([t for t in tokens], notes)
    mentions = _drop_keyword_mentions(tokens, mentions, frame)
    mentions = _drop_row_nouns(tokens, mentions, frame, frame_name, r)
    _read_values(tokens, r, frame)
    mentions = _read_ids(tokens, mentions, frame, frame_name)
    mentions = _read_fuzzy(tokens, mentions, matcher, r, _table_words(frame_name))
    _read_columns(tokens, mentions, r, frame)
    _drop_filter_only_mentions(tokens, r)
    _read_how_old(tokens, r, frame)
    _read_count(tokens, r, frame_name, matcher)
    r.unknown = [t.raw for t in tokens if not t.used and t.text not in STOPWORDS and not t.text.isdigit()
                 and len(t.text) > 2 and t.text not in _GRAMMAR_WORDS]
    r.notes += [n for n in notes if "could mean" in n]
    r.filters = _merge_value_filters(r.filters)
    return r


def _merge_value_filters(filters: list) -> list:
    """Values of one column named in two places ("China" and "New Zealand") form one `in`."""
    out, by_col = [], {}
    for f in filters:
        if f.op in ("==", "in") and not f.on_year and f.column in by_col:
            g = by_col[f.column]
            vals = (g.value if g.op == "in" else [g.value]) + (f.value if f.op == "in" else [f.value])
            g.op, g.value = "in", list(dict.fromkeys(vals))
            continue
        if f.op in ("==", "in") and not f.on_year:
            by_col[f.column] = f
        out.append(f)
    return out


_GRAMMAR_WORDS = {
    "chart", "graph", "plot", "bar", "pie", "line", "scatter", "visualize", "visualise", "return",
    "give", "find", "list", "show", "draw", "compare", "comparison", "distribution", "proportion",
    "about", "corresponding", "attribute", "bin", "interval", "them", "they", "what", "along",
    "trend", "correlation", "group", "grouped", "stacked", "total", "number", "average", "sum",
    "count", "how", "many", "each", "their", "its", "also", "please", "could", "would", "want",
    "display", "rank", "sort", "order", "axis", "bars", "histogram", "visualization", "using",
    "shows", "showing", "tell", "know", "with", "name", "names", "value", "values", "percentage",
    "then", "note", "just", "select", "those", "whose", "there", "have", "has", "had", "who",
    "calculate", "compute", "map", "of", "what's", "what're",
}


def _resolve_words(words: str, matcher: ColumnMatcher, frame: FrameInfo, r: Reading):
    words = re.sub(r"^(the|a|an)\s+", "", words.strip().lower())
    words = re.sub(r"\s+(of|for|in)\s+(each|all|every|the|different).*$", "", words)
    hit = matcher.lookup(words)
    if hit:
        return hit[0]
    toks = words.split()
    for size in range(len(toks), 0, -1):
        for i in range(len(toks) - size, -1, -1):  # the head noun comes last: "institution types"
            hit = matcher.lookup(" ".join(toks[i:i + size]))
            if hit:
                return hit[0]
    for t in reversed(toks):
        cols = matcher.partial.get(singular(t))
        if cols:
            return cols[0]
    return None


def _read_keywords(tokens, r: Reading, low: str, matcher: ColumnMatcher | None = None) -> None:
    n = len(tokens)
    for i, t in enumerate(tokens):
        w, nxt = t.text, tokens[i + 1].text if i + 1 < n else ""
        prev = tokens[i - 1].text if i else ""
        if matcher is not None and w in ("share", "trend", "distribution", "percentage", "proportion",
                                         "area", "line", "bar", "count", "composition") and (
                matcher.lookup(f"{w} {nxt}") or matcher.lookup(f"{prev} {w}")):
            continue  # "share count" is a column, not a share
        if matcher is not None and w in ("points", "dots", "lines", "bars") and matcher.lookup(w):
            continue  # "the average number of points": the Points column, not a scatter plot
        if w in CHART_WORDS and not (w in ("column", "columns") and nxt not in ("chart", "charts", "graph")) \
                and not (w in ("points", "dots", "lines", "line", "area", "bars") and r.chart) \
                and not (w == "heat" and nxt != "map") and not (w == "area" and nxt not in ("chart", "plot", "graph", "of") and prev not in ("stacked", "an")) \
                and not (w in ("line", "lines") and nxt not in ("chart", "charts", "graph", "plot", "")
                         and prev not in ("a", "as", "in", "with")):
            chart = CHART_WORDS[w]
            if r.chart is None or (r.chart == "bar" and chart != "bar"):
                r.chart = chart
            t.used = "keyword"
        elif w in ("map", "geo", "geographic", "geographical", "choropleth", "world") and (
                prev in ("a", "the", "on", "world", "as") or nxt in ("of", "by", "chart", "showing", "map")):
            r.map = True
            t.used = "keyword"
        elif w == "stacked" or (w == "stack" and prev != "y"):
            r.stacked = True
            t.used = "keyword"
        elif w in ("grouped", "clustered", "side-by-side", "sidebyside") and nxt in ("bar", "bars", "column"):
            r.grouped_bars = True
            t.used = "keyword"
        elif w in ("horizontal", "horizontally", "sideways"):
            r.horizontal = True
            t.used = "keyword"
        elif w in ("trend", "trends", "evolution", "timeline", "timeseries") or (
                w == "time" and prev in ("over", "through", "across")) or (w == "years" and prev == "over"):
            r.over_time = True
            t.used = "keyword"
        elif w in ("share", "shares", "proportion", "proportions", "composition", "percentage", "fraction",
                   "breakdown", "makeup"):
            r.share = True
            t.used = "keyword"
        elif w in ("relationship", "relation", "correlation", "correlate", "correlated", "association",
                   "relate", "relates"):
            r.relationship = True
            t.used = "keyword"
        elif w in ("distribution", "distributions", "spread"):
            r.distribution = True
            t.used = "keyword"
    if DEPENDS.search(low):
        r.dependent_first = True


def _drop_keyword_mentions(tokens, mentions, frame) -> list:
    """Words that are also column names but used as grammar here: "number of", "count of",
    "total X", "over time"."""
    keep = []
    for m in mentions:
        t = tokens[m.start]
        nxt = tokens[m.end] if m.end < len(tokens) else None
        single = m.end - m.start == 1 and not t.quoted
        if single and t.text in AGG_BEFORE and nxt is not None and (nxt.text == "of" or nxt.used == "column"):
            t.used = ""
            continue
        if single and t.text == "time" and m.start > 0 and tokens[m.start - 1].text in ("over", "through"):
            t.used = "keyword"
            continue
        keep.append(m)
    return keep


def _table_words(frame_name: str) -> set:
    words = [w for w in words_of(frame_name) if len(w) > 2]
    return set(words) | {singular(w) for w in words}


def _drop_row_nouns(tokens, mentions, frame, frame_name, r: Reading) -> list:
    """A word naming the frame's rows ("cinemas" in t_cinema, "members") that only partly
    matches an id column is the rows themselves: counted, or labelled by the name column."""
    table = _table_words(frame_name)
    keep = []
    for m in mentions:
        t = tokens[m.start]
        word = singular(t.text)
        info = frame.columns.get(m.column)
        if m.how in ("partial", "fuzzy") and m.end - m.start == 1 and info is not None and (
                word in table or singular(word) in table):
            t.used = "rows"
            r.row_noun = True
            prev = tokens[m.start - 1].text if m.start else ""
            prev2 = tokens[m.start - 2].text if m.start > 1 else ""
            if prev in ("each", "every", "all", "per") or prev2 in ("each", "every", "all") or \
                    (prev == "the" and prev2 in ("for", "of")):
                r.entity = True
                t.used = "keyword"
            continue
        keep.append(m)
    return keep


#: Words after which an unknown word is an attempted column name: "average salary".
MEASURE_SLOT = {"average", "mean", "avg", "median", "sum", "total", "maximum", "minimum", "max", "min"}


def _read_fuzzy(tokens, mentions, matcher: ColumnMatcher, r: Reading, table: set = frozenset()) -> list:
    """Misspelled column names are matched to the closest name (and said so); unknown words in
    a measure slot ("average salary") are remembered as not understood."""
    new = []
    for i, t in enumerate(tokens):
        if t.used or t.text in STOPWORDS or t.text in _GRAMMAR_WORDS or t.text in AGG_BEFORE or \
                len(t.text) < 4 or t.text.isdigit() or singular(t.text) in table:
            continue
        close = matcher.closest(t.text)
        if close:
            t.used = "column"
            r.notes.append(f"there is no column '{t.raw}'; used the closest name, {close}")
            new.append(Mention(close, i, i + 1, "fuzzy", t.raw))
            continue
        prev = tokens[i - 1].text if i else ""
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if prev in MEASURE_SLOT or nxt in ("vs", "versus", "against") or prev in ("vs", "versus", "against") \
                or t.quoted:
            r.slot_unknown.append(t.raw)
    return sorted(mentions + new, key=lambda m: m.start)


def _read_ids(tokens, mentions, frame: FrameInfo, frame_name: str) -> list:
    """"id"/"ids" names the frame's own id column (customer_id in customers, or plain ID)."""
    table = _table_words(frame_name)
    ids = [c for c in frame.columns if words_of(c)[-1:] == ["id"]]
    if not ids:
        return mentions
    own = [c for c in ids if len(words_of(c)) == 1 or set(words_of(c)[:-1]) & table] or ids
    out = list(mentions)
    for i, t in enumerate(tokens):
        if not t.used and t.text in ("id", "ids"):
            t.used = "column"
            out.append(Mention(own[0], i, i + 1, "partial", t.raw))
    return sorted(out, key=lambda m: m.start)


def _read_values(tokens, r: Reading, frame: FrameInfo, min_words: int = 1, initials=frozenset()) -> None:
    """Values of category columns named in the request ("Oceania", 'Visa') become filters;
    "not"/"excluding" before them negates."""
    index = value_index(frame, lambda key: bool(key) and key not in STOPWORDS
                        and key not in AGG_BEFORE and key not in CHART_WORDS)
    if not index:
        return
    found: dict[str, list] = {}
    negated: dict[str, bool] = {}
    n = len(tokens)
    for size in range(5, 0, -1):
        for i in range(0, n - size + 1):
            span = tokens[i:i + size]
            if any(t.used for t in span) or (size < min_words and (span[0].quoted or span[0].text not in initials)):
                continue
            key = span_key(span)
            hit = index.get(key)
            if hit is None and size == 1:
                hit = index.get(span[0].raw.lower())
            if hit is None and not span[-1].quoted and singular(span[-1].text) != span[-1].text and i and \
                    tokens[i - 1].text in ("are", "were", "as", "be", "being", "only", "not"):
                # "whose positions are defenders"; not "how many professors" (the rows counted)
                hit = index.get(" ".join([t.text for t in span[:-1]] + [singular(span[-1].text)]))
            coded = hit is None and size == 1 and _coded_value(span[0].text, index)
            if coded:
                hit = coded
            if hit is None:
                continue
            prev = tokens[i - 1].text if i else ""
            col_words = {singular(w) for w in words_of(hit[0])}
            if not coded and len(key) < 3 and not span[0].quoted and not (span[0].raw.isupper() and (prev in (
                    "is", "are", "=", "equals", "equal", "to", "as", "code") or singular(prev) in col_words)):
                continue
            col, value = hit
            for t in span:
                t.used = "value"
            found.setdefault(col, []).append(value)
            if prev in ("excluding", "except", "without", "not", "exclude", "but", "than") or \
                    _clause_before(tokens, i) & _NEGATIONS:
                negated[col] = True
    r.filters.extend(value_filters(found, negated))


_NEGATIONS = {"not", "excluding", "except", "without", "don't", "doesn't", "isn't", "aren't"}
#: Words that start another clause: a negation before one of them is not about the value after.
_CLAUSE_STARTS = {"and", "or", "who", "which", "that", "where", "whose", "than", "per", "each",
                  "with", "while"}


def _clause_before(tokens, i: int, reach: int = 6) -> set[str]:
    """The words before token i in its own clause (at most `reach`): "not a part of the
    Progress Party" -> {not, a, part, of, the}."""
    words = set()
    for k in range(i - 1, max(-1, i - 1 - reach), -1):
        if tokens[k].text in _CLAUSE_STARTS:
            break
        words.add(tokens[k].text)
    return words


_TRUE_CODES = {"1", "y", "yes", "t", "true"}
_FALSE_CODES = {"0", "n", "no", "f", "false"}
#: Name words of a yes/no column that are not what it says: abandoned_yn, is_active, has_pool_flag.
_FLAG_NAME_WORDS = {"yn", "is", "has", "flag", "ind", "indicator", "bool", "y", "n"}


def _flag_columns(frame: FrameInfo) -> dict[str, tuple[str, object, object]]:
    """{word: (column, true value, false value)} for yes/no columns named by one word."""
    out = {}
    for c in frame.columns.values():
        vals = list(c.values)
        codes = [str(v).strip().lower() for v in vals]
        if len(vals) != 2 or not set(codes) <= _TRUE_CODES | _FALSE_CODES or \
                len(set(codes) & _TRUE_CODES) != 1:
            continue
        words = [w for w in words_of(c.name) if w not in _FLAG_NAME_WORDS]
        if len(words) == 1 and len(words[0]) > 3:
            yes = vals[0] if codes[0] in _TRUE_CODES else vals[1]
            no = vals[1] if yes is vals[0] else vals[0]
            out[words[0]] = (c.name, _plain(yes), _plain(no))
    return out


def _plain(v):
    """A NumPy scalar as the Python value it holds, so the generated code reads `1`, not `np.int64(1)`."""
    return v.item() if hasattr(v, "item") else v


def _read_flags(tokens, r: Reading, frame: FrameInfo) -> None:
    """"dogs who have been abandoned" over an abandoned_yn column of 1/0 (or Y/N) keeps the
    rows flagged yes; "not abandoned", "never abandoned" the others."""
    flags = _flag_columns(frame)
    if not flags:
        return
    for i, t in enumerate(tokens):
        hit = flags.get(t.text) if not t.used and not t.quoted else None
        if hit is None:
            continue
        col, yes, no = hit
        before = {tokens[k].text for k in range(max(0, i - 3), i)}
        t.used = "value"
        negated = bool(before & {"not", "never", "non", "isn't", "wasn't", "weren't", "aren't", "haven't", "hasn't"})
        r.filters.append(Filter(col, "==", no if negated else yes))


#: Words for a sex or gender that data often stores as a one-letter code.
_SEX_WORDS = {"female": "f", "females": "f", "woman": "f", "women": "f", "girl": "f", "girls": "f",
              "male": "m", "males": "m", "man": "m", "men": "m", "boy": "m", "boys": "m"}


def _coded_value(word: str, index: dict):
    """"female students" where a sex/gender column holds F and M: (column, "F")."""
    code = _SEX_WORDS.get(word)
    hit = index.get(code) if code else None
    if hit is not None and set(words_of(hit[0])) & {"sex", "gender"}:
        return hit
    return None


def _connector(tokens, start: int) -> tuple[str, str, str | None]:
    """(connector word, word before it, aggregate word) in front of a mention."""
    j = start - 1
    agg = None
    skipped = []
    unknown_skips = 0
    while j >= 0 and not tokens[j].used and tokens[j].text not in STOPWORDS and tokens[j].text not in AGG_BEFORE \
            and unknown_skips < 1 and j > 0 and (tokens[j - 1].text in AGG_BEFORE or tokens[j - 1].text in (
                "each", "every", "per", "by")):
        j -= 1  # "highest student GPA": a word between the aggregate and the column
        unknown_skips += 1
    while j >= 0 and tokens[j].text in ("the", "a", "an", "of", "its", "their", "all", "different", "each",
                                        "every", "various", "attribute", "total", "average", "mean", "sum",
                                        "maximum", "minimum", "max", "min", "number", "amount", "count",
                                        "avg", "median", "highest", "lowest", "largest", "smallest",
                                        "oldest", "youngest", "maximal", "minimal", "cheapest", "distinct",
                                        "biggest", "greatest", "longest", "shortest", "unique", "frequency",
                                        "kind", "kinds", "type", "types", "sort", "sorts") \
            and tokens[j].used != "column":
        w = tokens[j].text
        if w in AGG_BEFORE and agg is None:
            agg = AGG_BEFORE[w]
            if w in ("number", "amount", "count") and j > 0 and tokens[j - 1].text == "total":
                agg = "total_count"
        skipped.append(w)
        j -= 1
    if j < 0:
        conn, before = "", ""
    else:
        conn, before = tokens[j].text, tokens[j - 1].text if j > 0 else ""
    if any(w in ("each", "every", "different", "various") for w in skipped):
        conn = conn if conn in COLOR_VERBS or before in COLOR_VERBS else "each"
    return conn, before, agg


def _read_columns(tokens, mentions, r: Reading, frame: FrameInfo) -> None:
    for m in mentions:
        conn, before, agg = _connector(tokens, m.start)
        role = "subject"
        if conn in ("by", "into", "per") and before in COLOR_VERBS or conn in ("stacked", "colored", "coloured"):
            role = "color"
        elif conn in ("by", "per", "into") and before in FACET_VERBS or conn in FACET_VERBS:
            role = "facet"
        elif conn in ("by", "per", "each", "across", "among", "every") or (
                conn == "for" and m.start > 0 and tokens[m.start - 1].text in ("each", "every", "different")):
            role = "group"
        elif conn == "over" and frame.columns[m.column].kind in ("nominal", "temporal", "boolean", "quantitative"):
            role = "group"
        elif conn == "in" and before not in ("is", "are") and frame.columns[m.column].kind in ("nominal",) \
                and agg is None:
            role = "group"
        if before == "group" and conn == "by" or (conn == "by" and before in ("grouped", "groups")):
            role = "group"
        if conn in ("and", ",", "&") and r.columns and r.columns[-1].role in ("group", "color") and \
                r.columns[-1].start >= m.start - 3 and agg is None:
            role = "group"  # "by day and time"
        r.columns.append(Column(m.column, m.start, m.said, agg=agg, role=role, connector=conn, how=m.how,
                                after_of=_after_of(tokens, m.start)))
        for k in range(m.start, m.end):
            tokens[k].used = "column"


def _after_of(tokens, start: int) -> bool:
    """Whether a mention follows "of" ("the position of players", "the description of all
    aircraft"), articles and quantifiers skipped."""
    j = start - 1
    while j >= 0 and tokens[j].text in ("the", "a", "an", "all", "its", "their"):
        j -= 1
    return j >= 0 and tokens[j].text == "of" and not tokens[j].used


#: Words between a column's name and the value it is compared with: "gender code is 'Male'".
_BEFORE_VALUE = {"is", "are", "was", "were", "=", "equals", "equal", "to", "of", "as", "the", "a", "an"}


def _drop_filter_only_mentions(tokens, r: Reading) -> None:
    """A column named only to say which rows ("tests with result 'Pass'", "mountains not in
    the range 'Aberdare Range'") is not also drawn: with one value kept it would be a single
    colour, and as a third column it would split the chart into colours nobody asked for."""
    ops = {f.column: f.op for f in r.filters}
    for c in list(r.columns):
        if c.role != "subject" or ops.get(c.name) not in ("==", "!=", "in", "notin"):
            continue
        others = {o.name for o in r.columns if o.role == "subject" and o.name != c.name}
        if ops[c.name] == "==" and others:  # one value kept: wherever it is named
            r.columns.remove(c)
            continue
        if len(others) < 2:
            continue
        k = c.start + len(c.said.split())
        while k < len(tokens) and tokens[k].text in _BEFORE_VALUE:
            k += 1
        if k < len(tokens) and tokens[k].used == "value":
            r.columns.remove(c)


def _read_how_old(tokens, r: Reading, frame: FrameInfo) -> None:
    """"how old is each gender, on average": the one age column is what is measured (its
    maximum for "the oldest", minimum for "the youngest")."""
    for i, t in enumerate(tokens[:-1]):
        if t.text == "how" and tokens[i + 1].text == "old" and not t.used:
            ages = [c.name for c in frame.columns.values()
                    if c.kind == "quantitative" and "age" in words_of(c.name)]
            if len(ages) == 1 and ages[0] not in r.named():
                words = {w.text for w in tokens}
                agg = "max" if "oldest" in words else "min" if "youngest" in words else None
                r.columns.insert(0, Column(name=ages[0], start=i, said="how old", agg=agg))
                t.used = tokens[i + 1].used = "column"
            return


#: What the rest of an identifier column's name says: train_number, Train_ID, order_no.
_ROW_KEY_WORDS = {"number", "num", "no", "nr", "id", "code", "key"}


def _free_counted_row_keys(tokens, r: Reading) -> None:
    """"number of trains" with a column train_number: the trains are counted, not their
    identifiers summed. Drops such a mention (a counted noun that names a column only together
    with an identifier word) and frees its words for the count reader."""
    for c in list(r.columns):
        said = c.said.split()
        before = [t.text for t in tokens[max(0, c.start - 3):c.start] if t.text not in ("the", "all")]
        counted = said[:2] in (["number", "of"], ["count", "of"]) or \
            len(said) == 1 and before[-2:] in (["number", "of"], ["count", "of"], ["how", "many"])
        name = words_of(c.name)
        rest = set(name) - {said[-1], singular(said[-1])}
        if counted and c.how != "exact" and rest and rest <= _ROW_KEY_WORDS and \
                len(rest) < len(name) and name[-1] in _ROW_KEY_WORDS:  # not Number_Deaths
            r.columns.remove(c)
            for t in tokens[c.start:c.start + len(said)]:
                t.used = ""


def _read_count(tokens, r: Reading, frame_name: str, matcher: ColumnMatcher) -> None:
    """Rows counted under another noun: "number of orders", "how many flights", "count them",
    "visits by weekday"."""
    n = len(tokens)
    table_words = set(words_of(frame_name)) | {singular(w) for w in words_of(frame_name)}
    _free_counted_row_keys(tokens, r)
    for i, t in enumerate(tokens):
        w = t.text
        nxt = tokens[i + 1] if i + 1 < n else None
        if w == "how" and nxt is not None and nxt.text in ("many", "much"):
            r.count = True
            t.used = nxt.used = "keyword"
            noun = tokens[i + 2] if i + 2 < n else None
            if noun is not None and noun.used != "column":
                r.count_noun = noun.raw
                noun.used = "keyword"
        elif w in ("number", "numbers", "count", "amount", "frequency", "counts") and nxt is not None and nxt.text == "of" and \
                not t.used:
            noun = next((tokens[k] for k in range(i + 2, min(n, i + 5)) if tokens[k].text not in
                         ("the", "a", "an", "all", "different", "distinct", "unique")), None)
            if noun is None or noun.used != "column":
                r.count = True
                t.used = nxt.used = "keyword"
                if noun is not None and not noun.used:
                    r.count_noun = noun.raw
                    noun.used = "keyword"
        elif w == "number" and not t.used and (nxt is None or nxt.text != "of") and \
                i > 0 and tokens[i - 1].text in ("total", "the"):
            r.count = True
            t.used = tokens[i - 1].used = "keyword"
        elif w in ("count", "counts", "tally") and not t.used:
            r.count = True
            t.used = "keyword"
        elif not t.used and (w in ROW_NOUNS or singular(w) in table_words) and \
                w not in ("time", "times", "one", "it"):
            t.used = "keyword"  # the frame's own rows ("visits by weekday", "orders per region")
            r.count_noun = r.count_noun or t.raw
