"""Request parsing for the offline planner: what analysts type -> columns, roles and modifiers.

No model, no network: a small deterministic grammar. Column mentions are found first (longest
phrases first, so "max temperature" wins over the aggregation word "max"), then filter values,
then keywords. Every guess that is not an exact match (a synonym, an abbreviation, a misspelling,
an ambiguous word) is recorded in `Parsed.notes` so the planner can say so in its explanation.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from anyviz.errors import AnyVizError

from ..words import quoted_spans
from .plan_schema import FrameInfo, words_of

# --------------------------------------------------------------------------- vocabulary

AGG_WORDS = {
    "average": "mean", "avg": "mean", "mean": "mean", "averages": "mean",
    "total": "sum", "sum": "sum", "totals": "sum", "overall": "sum", "cumulative": "sum",
    "median": "median", "typical": "median",
    "min": "min", "minimum": "min",
    "max": "max", "maximum": "max", "peak": "max",
    "count": "count", "counts": "count", "frequency": "count", "frequencies": "count",
}
CHART_WORDS = {
    "bar": "bar", "bars": "bar", "barchart": "bar", "column": "bar", "columns": "bar",
    "line": "line", "lines": "line", "linechart": "line", "timeline": "line",
    "scatter": "scatter", "scatterplot": "scatter", "scatterplots": "scatter", "dots": "scatter",
    "points": "scatter", "pie": "pie", "donut": "pie", "doughnut": "pie",
    "histogram": "histogram", "hist": "histogram", "histo": "histogram", "histograms": "histogram",
    "box": "box", "boxplot": "box", "boxplots": "box", "whisker": "box", "whiskers": "box",
    "violin": "violin", "violins": "violin", "area": "area",
    "heatmap": "heatmap", "heat": "heatmap", "matrix": "heatmap",
}
BIN_WORDS = {
    "monthly": "month", "month": "month", "months": "month",
    "yearly": "year", "annual": "year", "annually": "year", "year": "year", "years": "year",
    "weekday": "weekday", "weekdays": "weekday", "dow": "weekday",
    "quarterly": "quarter", "quarter": "quarter", "quarters": "quarter",
    "daily": "day", "day": "day", "days": "day",
    "hourly": "hour", "hour": "hour", "hours": "hour",
    "weekly": "week", "week": "week", "weeks": "week",
}
NUMBER_WORDS = {
    "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "twelve": 12, "fifteen": 15, "twenty": 20,
}
GROUP_CONNECTORS = {"by", "per", "across", "each", "every", "within", "among", "between_groups"}
VS_CONNECTORS = {"vs", "versus", "against", "v"}
COLOR_VERBS = {"colored", "coloured", "color", "colour", "colors", "colours", "split", "broken",
               "grouped", "stacked", "segmented", "separated", "hue", "breakdown", "legend"}
FACET_VERBS = {"facet", "faceted", "facets", "panel", "panels", "subplot", "subplots", "multiples"}
FILLER = {"the", "a", "an", "each", "every", "its", "their", "all", "different", "individual",
          "of", "down", "into", "separate", "small", "for", "to", "in", "on", "and"}
#: Words that carry no column meaning; anything else that matches nothing is reported.
STOPWORDS = set("""
a an the of in on at to for from with without by per and or vs versus v against between over
under across within among each every all any some show me plot chart graph draw make create give
display visualize visualise visualization viz figure diagram see view let us i we want would like
please can could you how what which who is are was were be been does do did it its this that these them they
those their there here as than then versus compare comparing comparison vs. using use used based
along together split colored coloured color colour colors colours broken down grouped stacked
segmented separated hue breakdown legend facet faceted facets panel panels subplot subplots
multiples separate small trend trends time timeline evolution change changes changed over growth
distribution distributions spread relationship relation correlation correlations correlate
correlated share shares proportion proportions percentage percent part whole composition
top bottom first last largest biggest highest most smallest lowest least fewest sorted sort
sorting order ordered descending ascending desc asc ranked rank ranking alphabetical alphabetically
number numbers how many amount much count counts chart plot graph horizontal vertical grouped side
sidebyside overlay overlaid next only just also chart's value values data dataset frame table
rows row records record entries entry observations where which when excluding except exclude not
no non other others between from to until till through before after since during up upto
between wise variable variables field fields x y axis axes one two three versus trendline
individual different style nice simple quick basic bigger full overview summary summarize
summarise including include includes inside outside like same vs across group groups category
categories level levels kind kinds type types each every year's whose has have had with
""".split())
FUZZY_CUTOFF = 0.8
#: Words for "which kind": stopwords on their own, a column when one column's name has them.
KIND_WORDS = {"type", "types", "category", "categories", "kind", "kinds"}
#: Words that never belong to a column phrase ("product type" may; "by product" may not).
_FUNCTION_WORDS = {"the", "a", "an", "of", "in", "on", "at", "to", "for", "from", "with", "by", "per", "and",
                   "or", "vs", "versus", "against", "over", "each", "every", "all", "as", "is", "are", "how",
                   "many", "what", "which", "show", "me", "chart", "bar", "pie", "line", "plot", "graph"}
#: An unknown word right after/before these is taken as an attempted column name.
SLOT_BEFORE = {"by", "per", "vs", "versus", "against", "of", "between", "average", "mean", "total",
               "median", "sum", "avg", "max", "min", "maximum", "minimum", "histogram", "plot"}
SLOT_AFTER = {"by", "per", "vs", "versus", "against", "over", "distribution", "across"}


# --------------------------------------------------------------------------- tokens

@dataclass
class Token:
    text: str      # lower case, possessive removed
    raw: str       # as typed (quotes stripped for quoted tokens)
    start: int
    quoted: bool = False
    used: str = ""  # what consumed it: "column", "value", "keyword", ...


_TOKEN_RE = re.compile(r"(\d+(?:\.\d+)?)|([A-Za-z][A-Za-z0-9_]*(?:'s)?)|([<>]=?|=)")


def tokenize(text: str) -> list[Token]:
    """Words, numbers and comparison signs; a quoted span (anyviz.words' quoting rule) is one
    token, marked `quoted`. A possessive 's is dropped ("country's" -> country)."""
    tokens, pos = [], 0
    for start, end in quoted_spans(text) + [(len(text), len(text))]:
        tokens += _plain_tokens(text, pos, start)
        inner = text[start + 1:end - 1]
        if inner.strip():
            tokens.append(Token(inner.lower().strip(), inner.strip(), start, quoted=True))
        pos = end
    return tokens


def _plain_tokens(text: str, start: int, end: int) -> list[Token]:
    tokens = []
    for m in _TOKEN_RE.finditer(text, start, end):
        raw = m.group(0)
        low = raw.lower()
        if low.endswith("'s"):
            low, raw = low[:-2], raw[:-2]
        tokens.append(Token(low, raw, m.start()))
    return tokens


def singular(word: str) -> str:
    """Cheap English singular, applied to both column words and request words."""
    w = word
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "ches", "shes", "xes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


# --------------------------------------------------------------------------- column matching

#: Abbreviation <-> word synonyms used to build column aliases (both directions are added).
TOKEN_SYNONYMS = {
    "pop": ["population"], "population": ["residents", "inhabitants"], "exp": ["expectancy"], "percap": ["per capita", "capita"],
    "temp": ["temperature", "temperatures"], "precip": ["precipitation"],
    "qty": ["quantity"], "amt": ["amount"], "num": ["number"], "yr": ["year"],
    "hp": ["horsepower"], "lbs": ["pounds", "lb"], "max": ["maximum", "high", "highest"],
    "min": ["minimum", "low", "lowest"], "avg": ["average", "mean"], "pct": ["percent"],
    "cnt": ["count"], "dt": ["date"], "cat": ["category"], "lat": ["latitude"],
    "lon": ["longitude", "lng"], "lng": ["longitude"], "desc": ["description"],
    "dept": ["department"], "emp": ["employee"], "rev": ["revenue"], "prod": ["product"],
    "cust": ["customer"], "addr": ["address"], "tot": ["total"], "len": ["length"],
    "wt": ["weight"], "accel": ["acceleration"], "disp": ["displacement"],
    "cyl": ["cylinders", "cylinder"], "acc": ["account"], "bal": ["balance"], "loc": ["location"],
    "stu": ["student"], "crs": ["course"], "prof": ["professor"], "no": ["number"],
    "enr": ["enrollment", "enrolment"], "mem": ["memory"], "gdp": ["gdp"], "sex": ["gender"], "gender": ["sex"],
}
#: Whole-column synonyms, keyed by the column name without separators, lower case.
COLUMN_SYNONYMS = {
    "lifeexp": ["life expectancy", "lifespan", "longevity", "life"],
    "gdppercap": ["gdp", "gdp per capita", "income per person", "wealth"],
    "pop": ["population", "people", "inhabitants"],
    "day": ["weekday", "day of week", "day of the week"],
    "totalbill": ["bill", "bills", "bill amount", "check", "meal cost"],
    "tip": ["gratuity", "tipping"],
    "size": ["party size", "group size", "party", "number of people"],
    "milespergallon": ["mpg", "fuel economy", "fuel efficiency", "efficiency", "mileage"],
    "weightinlbs": ["weight"],
    "netgeneration": ["generation", "electricity", "output"],
    "iata": ["airport code"],
    "fname": ["first name", "forename", "given name"],
    "lname": ["last name", "surname", "family name"],
    "dateofbirth": ["birthday", "birth date", "birthdate", "dob"],
    "dob": ["birthday", "birth date", "birthdate", "date of birth"],
    "birthdate": ["birthday", "date of birth", "dob"],
    "birthday": ["birth date", "birthdate", "date of birth", "dob"],
}


@dataclass
class Mention:
    column: str
    start: int   # token index
    end: int     # exclusive
    how: str     # exact | alias | partial | fuzzy
    said: str    # the words the user typed


class ColumnMatcher:
    """Finds column mentions in token lists; built once per frame from the column names."""

    def __init__(self, columns):
        self.columns = [str(c) for c in columns]
        self.phrases: dict[str, tuple[str, str]] = {}   # phrase -> (column, how)
        self.wordsets: dict[frozenset, str] = {}
        self.partial: dict[str, list[str]] = {}          # single word -> columns containing it
        self.initials: set[str] = set()                  # "phd" for prof_high_degree: a value may win
        self.colwords = {c: {singular(w) for w in words_of(c)} for c in self.columns}
        for col in self.columns:
            self._add(col)

    def _put(self, phrase: str, col: str, how: str) -> None:
        key = " ".join(singular(w) for w in phrase.split())
        if key and key not in self.phrases:
            self.phrases[key] = (col, how)

    def _add(self, col: str) -> None:
        self._put(col.lower(), col, "exact")
        words = words_of(col)
        self._put(" ".join(words), col, "exact")
        self._put("".join(words), col, "exact")
        variants = [[]]
        for w in words:
            options = [w] + TOKEN_SYNONYMS.get(w, [])
            variants = [v + [o] for v in variants for o in options][:64]
        for v in variants:
            phrase = " ".join(v)
            self._put(phrase, col, "alias")
            ws = frozenset(singular(x) for x in phrase.split())
            if len(ws) > 1:
                self.wordsets.setdefault(ws, col)
        if len(words) >= 3:
            self._put("".join(w[0] for w in words), col, "alias")  # miles per gallon -> mpg
            self.initials.add("".join(w[0] for w in words))
        for syn in COLUMN_SYNONYMS.get("".join(words), []):
            self._put(syn, col, "alias")
        for noun in _agent_nouns(words):
            self._put(noun, col, "alias")
        for w in words:
            if len(w) >= 3 and w not in STOPWORDS and not w.isdigit():
                self.partial.setdefault(singular(w), []).append(col)
                for syn in TOKEN_SYNONYMS.get(w, []):
                    if " " not in syn:
                        self.partial.setdefault(singular(syn), []).append(col)

    def lookup(self, phrase: str):
        """Exact or alias match of a whole phrase -> (column, how) or None."""
        words = phrase.lower().split()
        key = " ".join(singular(w) for w in words)
        if key in self.phrases:
            return self.phrases[key]
        ws = frozenset(singular(w) for w in words)
        if len(ws) > 1 and ws in self.wordsets:
            return self.wordsets[ws], "alias"
        return None

    def closest(self, word: str):
        """Closest column within a small edit distance (difflib ratio >= FUZZY_CUTOFF), or None."""
        candidates = {k.replace(" ", ""): v[0] for k, v in self.phrases.items()}
        hit = difflib.get_close_matches(singular(word.replace(" ", "").lower()),
                                        list(candidates), n=1, cutoff=FUZZY_CUTOFF)
        return candidates[hit[0]] if hit else None

    def resolve(self, name: str, notes: list[str]) -> str:
        """A column name given explicitly (an option): exact, alias, close match, or an error."""
        if name in self.columns:
            return name
        hit = self.lookup(name)
        if hit:
            if hit[0].lower() != name.lower():
                notes.append(f"'{name}' was read as column {hit[0]}")
            return hit[0]
        close = self.closest(name)
        if close:
            notes.append(f"there is no column '{name}'; used the closest name, {close}")
            return close
        raise no_such_column(name, self.columns)

    def _find_kind_words(self, tokens: list[Token], mentions: list[Mention]) -> None:
        """"each type", "for each category", "in different type" (and "its amount"): a kind word
        after a determiner names the one column with that word in its name (AllergyType,
        apt_type_code, charge_amount)."""
        for i, t in enumerate(tokens):
            if t.used or t.quoted or i == 0:
                continue
            if t.text in KIND_WORDS:
                if tokens[i - 1].text not in ("each", "every", "different", "various", "per", "by"):
                    continue
            elif t.text not in ("amount", "amounts") or tokens[i - 1].text not in ("its", "their", "the", "and"):
                continue  # "charge type and its amount", "the date and the amount" -> charge_amount
            if i + 1 < len(tokens) and (tokens[i + 1].text in ("of", "and") or tokens[i + 1].text in AGG_WORDS):
                continue  # "each type of bed" is read as a phrase; "type and ..." lists two kinds
            cols = [c for c, cw in self.colwords.items() if singular(t.text) in cw]
            if len(cols) == 1:
                t.used = "column"
                mentions.append(Mention(cols[0], i, i + 1, "partial", t.raw))

    def find(self, tokens: list[Token], notes: list[str]) -> list[Mention]:
        """The columns the request names, in request order; each pass marks the tokens it
        takes, so quoted names and longer phrases win over the words inside them."""
        mentions: list[Mention] = []
        self._find_quoted(tokens, mentions)
        self._find_of_phrases(tokens, mentions)
        self._find_phrases(tokens, mentions)
        self._find_word_groups(tokens, mentions)
        self._find_words(tokens, mentions, notes)
        self._find_kind_words(tokens, mentions)
        mentions.sort(key=lambda m: m.start)
        return mentions

    def _find_quoted(self, tokens: list[Token], mentions: list[Mention]) -> None:
        for i, t in enumerate(tokens):
            if t.quoted:
                hit = self.lookup(t.raw) or (self.closest(t.raw) and (self.closest(t.raw), "fuzzy"))
                if hit:
                    t.used = "column"
                    mentions.append(Mention(hit[0], i, i + 1, hit[1], t.raw))

    def _find_of_phrases(self, tokens: list[Token], mentions: list[Mention]) -> None:
        """Phrases like "amount of payment" or "number of deaths": the words of one column
        joined by "of"."""
        for i in range(0, len(tokens) - 2):
            a, of, b = tokens[i:i + 3]
            if of.text != "of" or a.used or b.used or a.quoted or b.quoted or a.text in STOPWORDS and \
                    a.text not in {"number", "amount", "date", "name"} | KIND_WORDS or b.text in STOPWORDS:
                continue
            ws = {singular(a.text), singular(b.text)}
            cols = [c for c, cw in self.colwords.items() if ws <= cw]
            if len(cols) == 1:
                a.used = of.used = b.used = "column"
                mentions.append(Mention(cols[0], i, i + 3, "partial", f"{a.raw} of {b.raw}"))

    def _find_phrases(self, tokens: list[Token], mentions: list[Mention]) -> None:
        """Column names (or their synonyms) spelt out, longest phrases first."""
        n = len(tokens)
        for size in range(min(5, n), 0, -1):
            for i in range(0, n - size + 1):
                span = tokens[i:i + size]
                if any(t.used or t.quoted for t in span):
                    continue
                phrase = " ".join(t.text for t in span)
                hit = self.lookup(phrase)
                if size > 1 and span[0].text in FILLER | {"by", "per", "vs"} and not (hit and hit[1] == "exact"):
                    continue
                if hit:
                    for t in span:
                        t.used = "column"
                    mentions.append(Mention(hit[0], i, i + size, hit[1],
                                            " ".join(t.raw for t in span)))

    def _find_word_groups(self, tokens: list[Token], mentions: list[Mention]) -> None:
        """Two or three words that are all words of exactly one column: "card type" -> card_type_code."""
        for size in (3, 2):
            for i in range(0, len(tokens) - size + 1):
                span = tokens[i:i + size]
                if any(t.used or t.quoted or t.text in _FUNCTION_WORDS for t in span) or \
                        all(t.text in STOPWORDS for t in span):
                    continue
                ws = {singular(t.text) for t in span}
                cols = [c for c, cw in self.colwords.items() if ws <= cw]
                if len(cols) == 1:
                    for t in span:
                        t.used = "column"
                    mentions.append(Mention(cols[0], i, i + size, "partial", " ".join(t.raw for t in span)))

    def _find_words(self, tokens: list[Token], mentions: list[Mention], notes: list[str]) -> None:
        """Single words that are part of one (or several) column names: "weight", "temperature";
        among several, a name that is not an id wins and the note says which was used."""
        for i, t in enumerate(tokens):
            if t.used or t.quoted or t.text in STOPWORDS or t.text in AGG_WORDS:
                continue
            cols = self.partial.get(singular(t.text))
            if cols:
                t.used = "column"
                uniq = list(dict.fromkeys(cols))
                plain = [c for c in uniq if not _idlike_name(c)]
                if plain and len(plain) < len(uniq):
                    uniq = plain + [c for c in uniq if c not in plain]
                if len(uniq) > 1:
                    notes.append(f"'{t.raw}' could mean {', '.join(uniq)}; used {uniq[0]}")
                mentions.append(Mention(uniq[0], i, i + 1, "partial", t.raw))


def _agent_nouns(words: list[str]) -> list[str]:
    """Directed_by -> director; Produced_by -> producer; Owned_by -> owner: the person noun a
    user says for a '<verb>ed by' column."""
    if len(words) < 2 or words[-1] != "by" or not words[-2].endswith("ed") or len(words[-2]) < 5:
        return []
    verb = words[-2]
    return list(dict.fromkeys([verb[:-2] + "or", verb[:-2] + "er", verb[:-1] + "r"]))


def _idlike_name(col: str) -> bool:
    words = words_of(col)
    return bool(words) and words[-1] in ("id", "code", "num", "no", "key") and len(words) > 1 and \
        words[-1] == "id"


def no_such_column(name: str, columns) -> AnyVizError:
    listed = ", ".join(str(c) for c in columns)
    return AnyVizError(
        f"No column matches '{name}'. The frame's columns are: {listed}. "
        "Name one of them (any case; spaces work for underscores), e.g. "
        f"%viz average {columns[-1] if columns else 'x'} by {columns[0] if columns else 'y'}.")


# --------------------------------------------------------------------------- parse result

@dataclass
class Filter:
    column: str
    op: str           # == != in notin >= > <= < between year== ...
    value: object
    on_year: bool = False  # compare the year of a datetime column

    def describe(self) -> str:
        if self.op in ("or", "and"):
            def sub(f):
                return (f if isinstance(f, Filter) else Filter(**f)).describe()
            if self.op == "and":
                return " and ".join(sub(f) for f in self.value)
            return " or ".join(" and ".join(sub(f) for f in group) for group in self.value)
        if self.op in ("contains", "notcontains", "startswith", "endswith"):
            words = {"contains": "contains", "notcontains": "does not contain",
                     "startswith": "starts with", "endswith": "ends with"}
            return f"{self.column} {words[self.op]} '{self.value}'"
        if self.op in ("notnull", "isnull"):
            return f"{self.column} is {'not ' if self.op == 'notnull' else ''}missing"
        v = self.value
        if self.op in ("in", "notin"):
            v = ", ".join(str(x) for x in self.value)
        if self.op == "between":
            v = f"{self.value[0]}..{self.value[1]}"
        col = f"year of {self.column}" if self.on_year else self.column
        words = {"==": "=", "!=": "≠", "in": "in", "notin": "not in", "between": "in"}
        return f"{col} {words.get(self.op, self.op)} {v}"


@dataclass
class Parsed:
    text: str
    mentions: list = field(default_factory=list)   # Mention with .role set in roles
    roles: dict = field(default_factory=dict)      # mention index -> role
    chart: str | None = None
    agg: str | None = None
    filters: list = field(default_factory=list)
    top: tuple | None = None        # (n, "desc"|"asc")
    sort: str | None = None         # "desc" | "asc" | "alpha"
    bin: str | None = None          # year, month, weekday, quarter, day, hour, week, monthname
    over_time: bool = False
    distribution: bool = False
    share: bool = False
    relationship: bool = False
    correlation_matrix: bool = False
    count_words: bool = False
    horizontal: bool = False
    barmode: str | None = None      # stack | group
    unknown: list = field(default_factory=list)    # words that look like missing column names
    notes: list = field(default_factory=list)

    def with_role(self, role: str) -> list[str]:
        return [m.column for i, m in enumerate(self.mentions) if self.roles.get(i) == role]


_COMPARATORS = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "=": "==", "above": ">",
                "over": ">", "exceeding": ">", "below": "<", "under": "<"}


def parse(text: str, frame: FrameInfo, matcher: ColumnMatcher | None = None) -> Parsed:
    """Parse a %viz request against a profiled frame."""
    p = Parsed(text=text)
    tokens = tokenize(text)
    matcher = matcher or ColumnMatcher(list(frame.columns))
    p.mentions = matcher.find(tokens, p.notes)
    has_temporal = bool(frame.of_kind("temporal"))

    # Keyword uses of words that are also column names ("count of", "over time", "total X").
    keep = []
    for m in p.mentions:
        t = tokens[m.start]
        nxt = tokens[m.end] if m.end < len(tokens) else None
        prev = tokens[m.start - 1] if m.start > 0 else None
        single = m.end - m.start == 1 and not t.quoted
        is_kw = False
        if single and t.text in set(AGG_WORDS) | {"number"} and nxt is not None and (
                nxt.text == "of" or nxt.used == "column"):
            is_kw = True
        if single and t.text == "time" and prev is not None and prev.text in ("over", "through") \
                and has_temporal:
            is_kw = True
        if single and t.text in BIN_WORDS and prev is not None and prev.text in ("per", "by", "each") \
                and frame.columns[m.column].kind != "nominal" \
                and frame.columns[m.column].temporal != "year" and m.how != "exact":
            is_kw = True  # "per month" when the frame only has a date column
        if is_kw:
            t.used = ""
        else:
            keep.append(m)
    p.mentions = keep

    _parse_top_and_numbers(tokens, p, frame)
    _parse_values(tokens, p, frame)
    _parse_keywords(tokens, p)
    _parse_fuzzy(tokens, p, matcher)
    _assign_roles(tokens, p, frame)
    return p


def _parse_top_and_numbers(tokens, p: Parsed, frame: FrameInfo) -> None:
    """Numbers in a request: top/bottom N, comparisons on a number column, and years."""
    _parse_top(tokens, p)
    _parse_comparisons(tokens, p, frame)
    _parse_years(tokens, p, frame)


_TOP_BEFORE = {"top": "desc", "first": "desc", "largest": "desc", "biggest": "desc", "highest": "desc",
               "best": "desc", "bottom": "asc", "last": "asc", "smallest": "asc", "lowest": "asc",
               "worst": "asc", "fewest": "asc"}
_TOP_AFTER = {"largest": "desc", "biggest": "desc", "highest": "desc", "most": "desc", "top": "desc",
              "best": "desc", "smallest": "asc", "lowest": "asc", "least": "asc", "fewest": "asc",
              "worst": "asc"}


def _parse_top(tokens, p: Parsed) -> None:
    """"top 5", "bottom 3", "10 largest": a number next to a ranking word."""
    n = len(tokens)
    for i, t in enumerate(tokens):
        if t.used:
            continue
        num = int(t.text) if t.text.isdigit() else NUMBER_WORDS.get(t.text)
        if num is None:
            continue
        prev = tokens[i - 1].text if i > 0 else ""
        nxt = tokens[i + 1].text if i + 1 < n else ""
        if prev in _TOP_BEFORE:
            p.top = (num, _TOP_BEFORE[prev])
            t.used = tokens[i - 1].used = "keyword"
        elif nxt in _TOP_AFTER:
            p.top = (num, _TOP_AFTER[nxt])
            t.used = tokens[i + 1].used = "keyword"


def _parse_comparisons(tokens, p: Parsed, frame: FrameInfo) -> None:
    """Comparisons on a numeric column: "tip > 5", "price above 100"."""
    n = len(tokens)
    for i, t in enumerate(tokens):
        if t.used or t.text not in _COMPARATORS:
            continue
        j = i + 1
        if j < n and tokens[j].text == "than":
            j += 1
        if j < n and re.fullmatch(r"\d+(\.\d+)?", tokens[j].text) and not tokens[j].used:
            m = next((m for m in p.mentions if m.end == i or (m.end == i - 1 and tokens[i - 1].text in
                                                                ("is", "was", "of"))), None)
            if m is not None and frame.columns[m.column].kind == "quantitative":
                value = float(tokens[j].text)
                p.filters.append(Filter(m.column, _COMPARATORS[t.text], value))
                t.used = tokens[j].used = "keyword"
                p.mentions.remove(m)
                for k in range(m.start, m.end):
                    tokens[k].used = "filter"


_YEAR_OPS = {"since": ">=", "from": ">=", "starting": ">=", "after": ">", "before": "<",
             "until": "<=", "through": "<=", "till": "<=", "up": "<="}


def _parse_years(tokens, p: Parsed, frame: FrameInfo) -> None:
    """Years: "in 2007", "since 1990", "between 1990 and 2000", "from 1990 to 2000"; several
    single years on the same column become one `in` filter ("in 1952 and 2007")."""
    year_col = _year_column(frame)
    years = [i for i, t in enumerate(tokens) if not t.used and re.fullmatch(r"1[5-9]\d\d|2[01]\d\d", t.text)]
    if not years:
        return
    if year_col is None:
        p.notes.append(f"ignored {', '.join(tokens[i].text for i in years)}: the frame has no year "
                       "or date column to filter on")
        for i in years:
            tokens[i].used = "keyword"
        return
    col, on_year = year_col
    done = set()
    for i in years:
        if i in done:
            continue
        prev = tokens[i - 1].text if i > 0 else ""
        y = int(tokens[i].text)
        j = next((k for k in years if k > i and k - i <= 2 and tokens[k - 1].text in ("and", "to", "through", "until")), None)
        if j is not None and prev in ("between", "from", "") or (j is not None and j == i + 2):
            p.filters.append(Filter(col, "between", (min(y, int(tokens[j].text)), max(y, int(tokens[j].text))), on_year))
            done.add(j)
            tokens[j].used = "filter"
        else:
            p.filters.append(Filter(col, _YEAR_OPS.get(prev, "=="), y, on_year))
        tokens[i].used = "filter"
        done.add(i)
    eq = [f for f in p.filters if f.op == "==" and f.column == col]
    if len(eq) > 1:
        for f in eq:
            p.filters.remove(f)
        p.filters.append(Filter(col, "in", [f.value for f in eq], on_year))


def _year_column(frame: FrameInfo):
    years = [c for c in frame.of_kind("temporal") if c.temporal == "year"]
    if years:
        return years[0].name, False
    t = frame.first_temporal()
    if t is not None:
        return t.name, True
    return None


def value_index(frame, keep) -> dict[str, tuple[str, object]]:
    """The values of the frame's category columns by their lower-case text, each with its column
    (the first column wins a value two share); `keep(key)` says which texts may name a value."""
    index: dict[str, tuple[str, object]] = {}
    for c in frame.columns.values():
        if c.kind not in ("nominal", "boolean") or not c.values:
            continue
        for v in c.values:
            key = str(v).lower().strip()
            if keep(key):
                index.setdefault(key, (c.name, v))
            bare = key.replace(".", "")  # "Ph.D." is typed "PhD", "U.S.A." "USA"
            if bare != key and len(bare) > 1 and keep(bare):
                index.setdefault(bare, (c.name, v))
    return index


def span_key(span) -> str:
    """The text of a run of tokens as a value key: quoted tokens as written, others normalised."""
    return " ".join(t.raw.lower() if t.quoted else t.text for t in span)


def value_filters(found: dict[str, list], negated: dict[str, bool]) -> list[Filter]:
    """One filter per column from the values a request named for it: `==`/`!=` for one value,
    `in`/`notin` for several (repeats dropped, first-mention order kept)."""
    filters = []
    for col, values in found.items():
        values = list(dict.fromkeys(values))
        neg = negated.get(col, False)
        if len(values) == 1:
            filters.append(Filter(col, "!=" if neg else "==", values[0]))
        else:
            filters.append(Filter(col, "notin" if neg else "in", values))
    return filters


def _parse_values(tokens, p: Parsed, frame: FrameInfo) -> None:
    """Values of small nominal columns mentioned in the request become filters."""
    index = value_index(frame, lambda key: (len(key) >= 3 or key.isupper())
                        and key not in STOPWORDS and key not in AGG_WORDS
                        and key not in CHART_WORDS)
    if not index:
        return
    found: dict[str, list] = {}
    negated: dict[str, bool] = {}
    n = len(tokens)
    for size in range(4, 0, -1):
        for i in range(0, n - size + 1):
            span = tokens[i:i + size]
            if any(t.used for t in span):
                continue
            key = span_key(span)
            hit = index.get(key)
            if hit is None and size == 1 and not span[0].quoted:
                hit = index.get(span[0].raw.lower())
            if hit is None:
                continue
            if size == 1 and len(key) < 3 and not span[0].quoted and not span[0].raw.isupper():
                continue
            col, value = hit
            for t in span:
                t.used = "value"
            found.setdefault(col, []).append(value)
            prev = tokens[i - 1].text if i > 0 else ""
            prev2 = tokens[i - 2].text if i > 1 else ""
            if prev in ("excluding", "except", "without", "not", "exclude", "but") or \
                    prev2 in ("excluding", "except", "without", "not"):
                negated[col] = True
    p.filters.extend(value_filters(found, negated))


def _parse_keywords(tokens, p: Parsed) -> None:
    """Words that set the chart, aggregation, order, intent, layout or time bin; each reader
    below answers None when the word is not of its kind, else whether it was a keyword."""
    for i, t in enumerate(tokens):
        if t.used:
            continue
        kw = False
        for reader in (_chart_or_aggregate_word, _order_word, _intent_word, _layout_word, _bin_word):
            answer = reader(tokens, i, p)
            if answer is not None:
                kw = answer
                break
        if kw:
            t.used = "keyword"


def _neighbours(tokens, i) -> tuple[str, str, str]:
    """(word, previous word, next word) at position i."""
    return (tokens[i].text, tokens[i - 1].text if i > 0 else "",
            tokens[i + 1].text if i + 1 < len(tokens) else "")


def _chart_or_aggregate_word(tokens, i, p: Parsed) -> bool | None:
    w, _, nxt = _neighbours(tokens, i)
    if w in CHART_WORDS and not (w in ("column", "columns") and nxt not in ("chart", "charts", "graph")):
        if w == "heat" and nxt != "map":
            return False
        if not (w == "points" and p.chart):
            p.chart = p.chart or CHART_WORDS[w]
        return True
    if w in ("how", "number") and nxt in ("many", "of"):
        p.agg = p.agg or "count"
        p.count_words = True
        return True
    if w in AGG_WORDS:
        p.agg = p.agg or AGG_WORDS[w]
        if AGG_WORDS[w] == "count":
            p.count_words = True
        return True
    return None


def _order_word(tokens, i, p: Parsed) -> bool | None:
    w, prev, nxt = _neighbours(tokens, i)
    if w in ("highest", "largest", "biggest", "most") and prev not in ("top",):
        p.sort = p.sort or "desc"
    elif w in ("lowest", "smallest", "least", "fewest"):
        p.sort = p.sort or "asc"
    elif w in ("descending", "desc", "ranked", "ranking", "rank", "sorted", "sort", "order", "ordered"):
        if w in ("sorted", "sort", "order", "ordered") and nxt in ("ascending", "asc", "alphabetically"):
            pass
        elif w in ("sorted", "sort", "ordered") and nxt in ("by",):
            p.sort = p.sort or "desc"
            tokens[i + 1].used = "keyword"
        else:
            p.sort = p.sort or "desc"
    elif w in ("ascending", "asc", "increasing"):
        p.sort = "asc"
    elif w in ("alphabetical", "alphabetically"):
        p.sort = "alpha"
    else:
        return None
    return True


def _intent_word(tokens, i, p: Parsed) -> bool | None:
    w, prev, nxt = _neighbours(tokens, i)
    if w in ("trend", "trends", "evolution", "timeline", "timeseries") or (
            w == "time" and prev in ("over", "through", "across")) or (w == "time" and nxt == "series"):
        p.over_time = True
    elif w in ("growth", "changed", "change", "changes") and nxt in ("over", "across", "through", "since"):
        p.over_time = True
    elif w in ("distribution", "distributions", "spread", "histogram"):
        p.distribution = True
    elif w in ("share", "shares", "proportion", "proportions", "composition", "percentage",
               "fraction", "makeup"):
        p.share = True
    elif w in ("relationship", "relation", "correlation", "correlate", "correlated",
               "correlations", "association"):
        p.relationship = True
        if w == "correlations" or nxt in ("matrix", "heatmap", "heat"):
            p.correlation_matrix = True
    else:
        return None
    return True


def _layout_word(tokens, i, p: Parsed) -> bool | None:
    w, _, nxt = _neighbours(tokens, i)
    if w in ("horizontal", "horizontally", "sideways"):
        p.horizontal = True
    elif w == "stacked":
        p.barmode = "stack"
    elif w in ("grouped", "side", "clustered", "sidebyside") and not (w == "grouped" and nxt == "by"):
        p.barmode = "group"
    else:
        return None
    return True


def _bin_word(tokens, i, p: Parsed) -> bool | None:
    """"per month", "monthly", "month of year", "day of week", "seasonal"."""
    w, prev, nxt = _neighbours(tokens, i)
    n = len(tokens)
    if w in BIN_WORDS and (prev in ("per", "by", "each", "every", "of", "a") or
                           w in ("monthly", "yearly", "annual", "annually", "daily",
                                 "weekly", "hourly", "quarterly", "weekday", "weekdays", "dow")):
        unit = BIN_WORDS[w]
        if unit == "month" and nxt == "of" and i + 2 < n and tokens[i + 2].text == "year":
            unit = "monthname"
            tokens[i + 2].used = "keyword"
        if w == "day" and nxt == "of" and i + 2 < n and tokens[i + 2].text == "week":
            unit = "weekday"
            tokens[i + 2].used = "keyword"
        p.bin = unit
        return True
    if w in ("seasonal", "seasonality"):
        p.bin = "monthname"
        return True
    return None


def _parse_fuzzy(tokens, p: Parsed, matcher: ColumnMatcher) -> None:
    """Misspelled column names: close matches are used and reported; others are remembered."""
    new = []
    for i, t in enumerate(tokens):
        if t.used or t.text in STOPWORDS or t.text.isdigit() or len(t.text) < 3 or t.text in BIN_WORDS:
            continue
        prev = tokens[i - 1].text if i > 0 else ""
        prev2 = tokens[i - 2].text if i > 1 else ""
        if prev == "many" or (prev == "of" and prev2 == "number") or (prev == "of" and prev2 in AGG_WORDS
                                                                       and AGG_WORDS[prev2] == "count"):
            t.used = "keyword"  # "number of cars": the frame's rows, counted
            p.notes.append(f"'{t.raw}' read as the rows of the frame")
            continue
        if re.fullmatch(r"\d+(\.\d+)?", t.text):
            continue
        close = matcher.closest(t.text) if len(t.text) >= 4 else None
        if close:
            t.used = "column"
            p.notes.append(f"there is no column '{t.raw}'; used the closest name, {close}")
            new.append(Mention(close, i, i + 1, "fuzzy", t.raw))
        else:
            prev = tokens[i - 1].text if i > 0 else ""
            nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
            slot = prev in SLOT_BEFORE or nxt in SLOT_AFTER or t.quoted
            p.unknown.append((t.raw, slot))
    if new:
        p.mentions = sorted(p.mentions + new, key=lambda m: m.start)


def _connector(tokens, m: Mention) -> tuple[str, str]:
    """The keyword right before a mention (skipping filler) and the word before that."""
    j = m.start - 1
    while j >= 0 and tokens[j].text in ("the", "a", "an", "each", "every", "its", "their",
                                        "different", "individual", "separate", "small"):
        j -= 1
    if j < 0:
        return "", ""
    w = tokens[j].text
    before = tokens[j - 1].text if j > 0 else ""
    if w == "down" and before == "broken":
        return "by", "broken"
    if w == "by" and before == "down":
        return "by", "broken"
    if w in ("by", "per", "into") and j > 0:
        return w, before
    if w == "each" or tokens[m.start - 1].text in ("each", "every"):
        return "per", ""
    if tokens[j].used == "column" and w != "and":
        return "col", ""
    return w, before


def _assign_roles(tokens, p: Parsed, frame: FrameInfo) -> None:
    roles = {}
    for k, m in enumerate(p.mentions):
        conn, before = _connector(tokens, m)
        if conn in ("by", "into") and before in COLOR_VERBS:
            role = "color"
        elif conn in ("by", "into", "per") and before in FACET_VERBS:
            role = "facet"
        elif conn in COLOR_VERBS or (conn == "for" and tokens[m.start - 1].text in ("each", "every")):
            role = "color" if conn in COLOR_VERBS else "group"
        elif conn in FACET_VERBS:
            role = "facet"
        elif conn in GROUP_CONNECTORS or conn in ("for", "over", "into") and \
                frame.columns[m.column].kind in ("nominal", "temporal", "boolean"):
            role = "group"
        elif conn in VS_CONNECTORS:
            role = "vs"
        elif conn in ("and", "col", "&", "with") and k > 0:
            prev_role = roles[k - 1]
            if prev_role == "group":
                role = "group"
            elif prev_role in ("color", "facet"):
                role = "group" if conn == "and" else "subject"
            else:
                role = "subject"
        elif conn == "x":
            role = "x"
        elif conn == "y":
            role = "y"
        else:
            role = "subject"
        roles[k] = role
    p.roles = roles
