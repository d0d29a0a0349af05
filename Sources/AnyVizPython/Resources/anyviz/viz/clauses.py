"""Clause grammar of a %viz request: sort order, top-N, time bins, axes and filters.

Each reader finds one kind of clause in the request text, returns what it means, and the
character spans it consumed, so the column/role reader (intents.py) does not read the same
words again ("sort by the y axis in descending", "whose salary is above 5000", "bin the date
by weekday"). Values and column names found here are checked against the frame.
"""
from __future__ import annotations

import re
from .nlp import ColumnMatcher, Filter
from .plan_schema import FrameInfo, words_of

DESC_WORDS = r"(?:desc(?:ending)?|from high to low|high to low|from large to small|from big to small|" \
    r"from highest to lowest|from z to a|decreasing|reverse alphabetical|from the highest|largest first|" \
    r"highest first|from most to least)"
ASC_WORDS = r"(?:asc(?:ending)?|from low to high|low to high|from small to large|from lowest to highest|" \
    r"from a to z|increasing|alphabetic(?:al)?(?:ly)?|from the lowest|smallest first|lowest first|" \
    r"from least to most|in order)"
_NUMBER = r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?"  # 2,000,000 or 12.5
_DATE = r"\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}"
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20}


def _spans_overlap(a: tuple, spans: list) -> bool:
    return any(a[0] < e and s < a[1] for s, e in spans)


# --------------------------------------------------------------------------- sort and top N

def read_sort(text: str) -> tuple[tuple | None, list]:
    """("x"|"y"|"col:<words>"|None, "asc"|"desc") of an ordering clause, and the span to mask.
    The target is the axis named (x/y axis, "the bars" and names -> x; "total number",
    counts -> y) or a column, resolved by the caller."""
    low = text.lower()
    m = None
    for m0 in re.finditer(rf"\b{DESC_WORDS}|\b{ASC_WORDS}", low):
        m = m0
    if m is None:
        bare = re.search(r"\b(?:sort|sorted|order|ordered|rank|ranked|arrange)\s+(?:it\s+|them\s+)?by\s+(?:the\s+)?"
                         r"(x|y)[- ]?(?:axis)?\b", low)
        if bare:
            return (bare.group(1), "asc"), [bare.span()]
        if re.search(r"\b(sorted|ranked|ordered)\b", low) and re.search(r"\b(largest|highest|most)\b", low):
            return (None, "desc"), []
        return None, []
    word = m.group(0)
    if word == "in order" and not re.search(r"\b(sort|order|rank|list|arrange)", low):
        return None, []
    order = "desc" if re.fullmatch(DESC_WORDS, word) else "asc"
    # the words that say what to order by: from the ordering verb to the end of the segment
    seg_start = max(low.rfind(",", 0, m.start()), low.rfind(".", 0, m.start()),
                    low.rfind("?", 0, m.start()), -1) + 1
    verb = None
    for v in re.finditer(r"\b(sort|sorted|sorting|order|ordered|rank|ranked|ranking|list|listed|"
                         r"arrange|arranged|display|displayed|show|put)\b", low[:m.start()]):
        verb = v
    mask_start = m.start()
    if verb is not None:
        between = low[verb.end():m.start()]
        # "show by the x axis in desc": a weak verb still leads the clause when an axis follows it
        strong = verb.group(1) not in ("display", "displayed", "show", "put", "list", "listed") or \
            re.match(r"\s*by\s+(?:the\s+)?[xy](?:[- ]?axis)?\b", between)
        if len(between.split()) <= (10 if strong else 4):
            mask_start = verb.start()
            seg_start = min(seg_start, verb.start()) if verb.start() >= seg_start - 1 else verb.start()
    end = m.end()
    tail = re.match(r"[^,.?;]*", low[end:])
    seg_end = end + (len(tail.group(0)) if tail else 0)
    seg = low[mask_start:seg_end]
    return (_sort_target(seg, word), order), [(mask_start, seg_end)]


# an ordering target that begins with one of these is the measure drawn on y
_MEASURE_LEAD = re.compile(r"(?:total number|number|count|counts|how many|amount|frequency|value|values|"
                           r"sum|average|avg|mean|total|maximum|minimum|max|min)\b")
_SORT_VERB = re.compile(r"^(?:sort|sorted|sorting|order|ordered|rank|ranked|ranking|list|listed|"
                        r"arrange|arranged|display|displayed|show|put)\b")
_SORT_FILLER = {"the", "it", "them", "in", "by", "order", "please", "of", "a", "an", "and", "their",
                "its", "to", "is", "are", "all", "bar", "chart", "graph", "x", "y"}


def _sort_phrase(text: str) -> str:
    """The words naming what to order by, with the verb, 'by the', 'order', 'please' dropped:
    'sort LName in' -> 'lname', 'order by the the number of rooms' -> 'number of rooms'."""
    text = _SORT_VERB.sub("", text.strip()).strip()
    if re.search(r"\bby\b", text):
        text = text[re.search(r"\bby\b", text).end():]
    words = text.split()
    while words and words[0] in _SORT_FILLER:
        words.pop(0)
    while words and words[-1] in _SORT_FILLER:
        words.pop()
    return " ".join(words)


def _sort_target(seg: str, word: str):
    """What an ordering clause orders by: "x", "y", "col:<words>" or None (the caller's default).
    The named thing may come before the order words ('list Team_Name from low to high') or after
    them ('in descending order of opening year', 'in asc by the ACC_Road'); a measure word
    ('the number of rooms', 'how many X', 'average price') means the bar heights."""
    if re.search(r"\bx\b|x[- ]?axis|x-axis", seg):
        return "x"
    if re.search(r"\by\b|y[- ]?axis|y-axis", seg):
        return "y"
    at = seg.find(word)
    phrase = _sort_phrase(seg[:at]) if at >= 0 else ""
    if not phrase and at >= 0:
        phrase = _sort_phrase(seg[at + len(word):])
    if phrase and _MEASURE_LEAD.match(phrase):
        return "y"
    if re.search(r"\bbars?\b|\bnames?\b|alphabetic|\bletter|\blabels?\b|a to z|z to a", seg):
        return "x"
    if phrase:
        return "col:" + phrase
    if re.search(r"\b(total number|the number|number|count|counts|how many|amount|frequency|value|values|"
                 r"sum|average|total)\b", seg):
        return "y"
    return None


def read_top(text: str) -> tuple[tuple | None, list]:
    low = text.lower()
    num = rf"(\d+|{'|'.join(NUMBER_WORDS)})"
    m = re.search(rf"\b(top|first|largest|biggest|highest|best)\s+{num}\b", low)
    order = "desc"
    if not m:
        m = re.search(rf"\b(bottom|last|smallest|lowest|worst|fewest)\s+{num}\b", low)
        order = "asc"
    if not m:
        m2 = re.search(rf"\b{num}\s+(largest|biggest|highest|most|top|best|smallest|lowest|least|fewest|worst)\b", low)
        if m2:
            n = m2.group(1)
            order = "desc" if m2.group(2) in ("largest", "biggest", "highest", "most", "top", "best") else "asc"
            return (_int(n), order), [m2.span()]
        return None, []
    return (_int(m.group(2)), order), [m.span()]


def _int(s: str) -> int:
    return int(s) if s.isdigit() else NUMBER_WORDS[s]


# --------------------------------------------------------------------------- time bins

_UNIT_WORDS = [
    (r"day of (?:the )?week|weekdays?|days? of week|week ?day", "weekday"),
    (r"month of (?:the )?year|months? interval|month name", "monthname"),
    (r"years?|yearly|annual", "year"),
    (r"months?|monthly", "month_any"),
    (r"quarters?|quarterly", "quarter"),
    (r"weeks?|weekly", "week"),
    (r"days?|daily|dates?", "day"),
    (r"hours?|hourly", "hour"),
    (r"time", "time"),
]


def read_bin(text: str) -> tuple[tuple | None, list]:
    """("column words" or None, unit) of "bin X by weekday", "X into year interval",
    "group X by month". Unit "month_any" means months; "time" a default for dates."""
    low = text.lower()
    units = "|".join(f"(?:{u})" for u, _ in _UNIT_WORDS)
    pats = [
        rf"\bbin(?:ning|ned|s)?\s+(?:the\s+)?([a-z0-9_ ]+?)\s+(?:by|into|in|per)\s+(?:the\s+)?({units})(?:\s+interval)?\b",
        rf"\bbin(?:ning|ned|s)?\s+(?:by|into|in)\s+(?:the\s+)?({units})(?:\s+interval)?\b",
        rf"\binto\s+(?:the\s+)?({units})\s+interval\b",
        rf"\b({units})\s+interval\b",
    ]
    for k, pat in enumerate(pats):
        m = re.search(pat, low)
        if m:
            col = m.group(1).strip() if k == 0 else None
            unit_text = m.group(2) if k == 0 else m.group(1)
            unit = next(u for p, u in _UNIT_WORDS if re.fullmatch(p, unit_text))
            return (col, unit), [m.span()]
    return None, []


# --------------------------------------------------------------------------- explicit axes

def read_axes(text: str) -> tuple[dict, list]:
    """{"x": words, "y": words} from "x axis A y axis B", "A as the x-axis", "B on the y axis"."""
    low = text.lower()
    out, spans = {}, []
    for axis in ("x", "y"):
        other = "y" if axis == "x" else "x"
        m = re.search(rf"\b{axis}[- ]?axis\s+(?:is\s+|as\s+|shows?\s+|for\s+|of\s+)?(?:the\s+)?"
                      rf"([a-z0-9_ ]+?)(?=\s*(?:,|\.|;|\band\b|\b{other}[- ]?axis\b|$|\bwith\b|\bin\b|\bby\b|\bbin\b))", low)
        if m and not re.match(r"(in|from|by|and|as|to|is|of|shows?|with)\b", m.group(1)):
            out[axis] = m.group(1).strip()
            spans.append(m.span())
            continue
        m = re.search(rf"\b(?:let\s+|use\s+|put\s+|with\s+)?(?:the\s+)?([a-z0-9_ ]+?)\s+(?:as|on|for)\s+(?:the\s+)?{axis}[- ]?axis", low)
        if m:
            words = re.sub(r"^.*\b(?:and|let|use|put|with|show|plot|draw)\s+", "", m.group(1)).strip()
            out[axis] = words
            spans.append(m.span())
    return out, spans


# --------------------------------------------------------------------------- filters

_CMP = [
    (r"(?:is |are |was |were )?(?:not less than|no less than|at least|greater than or equal to|more than or equal to|>=)", ">="),
    (r"(?:is |are |was |were )?(?:not more than|no more than|at most|less than or equal to|<=)", "<="),
    (r"(?:is |are |was |were )?(?:greater than|more than|larger than|higher than|bigger than|longer than|"
     r"older than|heavier than|above|over|exceeding|exceeds|after|later than|>)", ">"),
    (r"(?:is |are |was |were )?(?:less than|fewer than|smaller than|lower than|shorter than|younger than|"
     r"lighter than|below|under|before|earlier than|<)", "<"),
    (r"(?:is |are |was |were )?(?:not equal to|does not equal(?: to)?|doesn't equal(?: to)?|not equals?|!=|is not|isn't)", "!="),
    (r"(?:is |are |was |were )?(?:equal to|equals?|=|is|are|was|of)", "=="),
]
#: A comparison after "not": "not older than 5" is "<= 5".
_NEGATED_OP = {">": "<=", "<": ">=", ">=": "<", "<=": ">", "==": "!=", "!=": "=="}
#: Who a bare "under 40" / "over 65" is said of: then it is an age.
_PEOPLE = re.compile(r"\b(?:people|persons?|who|students?|employees?|staff|players?|members?|customers?|users?|"
                     r"patients?|children|kids|adults|men|women|teachers?|workers?|residents?|athletes?|"
                     r"pilots?|drivers?|singers?|artists?)\b")
#: Words that imply a column when no column is named: "younger than 50" -> age.
IMPLIED = {"younger": "age", "older": "age", "heavier": "weight", "lighter": "weight",
           "taller": "height", "shorter": "height", "cheaper": "price", "hired": "hire date",
           "born": "birth", "cost": "price", "costs": "price", "priced": "price", "earn": "salary",
           "earns": "salary", "paid": "salary"}


def read_filters(text: str, frame: FrameInfo, matcher: ColumnMatcher, taken: list) -> tuple[list, list]:
    """Filters written as comparisons, ranges, text patterns and missing-value tests.
    Clauses joined by "or" become one `or` filter (SQL precedence: and binds tighter)."""
    reader = _FilterReader(text, frame, matcher, taken)
    for read in (reader.ranges, reader.letters, reader.substrings, reader.missing,
                 reader.verbs, reader.comparisons, reader.years):
        read()
    found = sorted(reader.found)
    return _combine(reader.low, found), [(s, e) for s, e, _ in found]


_COL_PAT = r"([a-z][a-z0-9_]*(?: [a-z][a-z0-9_]*){0,3})"
#: Words after "contains"/"starts with" that are not the text looked for.
_NOT_PATTERNS = {"a", "an", "the", "any", "some", "no", "only", "all", "at", "more", "less", "number", "numbers",
                 "digits", "digit", "letters", "letter", "value", "values", "data", "it", "them", "in", "of"}


#: Words that say a pattern is about an entity's name, and the words between the entity and them.
_NAME_WORDS = {"name", "names", "title", "titles"}
_ENTITY_JOINERS = {"whose", "with", "having", "that", "which", "who", "have", "has", "in", "their",
                   "its", "the", "his", "her"}


class _FilterReader:
    """One request's filters, read family by family; a later family never takes words an
    earlier one (or another clause, `taken`) already used."""

    def __init__(self, text: str, frame: FrameInfo, matcher: ColumnMatcher, taken: list):
        self.text, self.low, self.frame, self.matcher, self.taken = text, text.lower(), frame, matcher, taken
        self.found: list[tuple[int, int, Filter]] = []

    def _implied(self, implied: str):
        """(column, how) for the column a comparison word implies, or None."""
        return self.matcher.lookup(implied) or next(((c, "") for c in self.matcher.columns
                                                     if implied.split()[0] in c.lower()), None)

    def column_at(self, words: str, implied: str | None = None):
        """The column the words end with (longest suffix, then a partial word), or the column a
        comparison word implies ("older than" -> age)."""
        words = words.strip()
        hit = self._implied(implied) if implied else None
        if hit:
            return hit[0]
        toks = words.split()
        for k in range(len(toks)):  # longest suffix that names a column
            hit = self.matcher.lookup(" ".join(toks[k:]))
            if hit:
                return hit[0]
        for k in range(len(toks) - 1, -1, -1):
            cols = self.matcher.partial.get(_singular(toks[k]), [])
            if cols and (toks[k] not in ("number", "name", "id", "code", "type") or len(cols) == 1 and k == len(toks) - 1):
                return cols[0]  # a generic word ("name") only when it is the last word and one column has it
        return None

    def named_entity(self, words: str, before: str):
        """The text column of the thing whose name a pattern is about, when no column is
        called that: "countries whose name contains 'land'" -> country."""
        if words.strip() not in _NAME_WORDS:
            return None
        for tok in reversed(re.findall(r"[a-z][a-z0-9_]*", before)[-4:]):
            if tok in _ENTITY_JOINERS:
                continue
            hit = self.matcher.lookup(tok) or self.matcher.lookup(_singular(tok))
            return hit[0] if hit and self.frame.columns[hit[0]].kind == "nominal" else None
        return None

    def overlaps(self, span) -> bool:
        return _spans_overlap(span, self.taken + [(s, e) for s, e, _ in self.found])

    def add(self, span, f) -> None:
        if f is not None and not self.overlaps(span):
            self.found.append((span[0], span[1], f))

    def ranges(self) -> None:
        """"salary between 8000 and 12000", "price in the range of 60 and 120", "in 1990-2000"."""
        low = self.low
        for m in re.finditer(rf"\b(?:between|in the range of|in the range between|ranging from|from)\s+"
                             rf"({_NUMBER}|{_DATE})\s+(?:and|to)\s+({_NUMBER}|{_DATE})\b", low):
            before = low[max(0, m.start() - 60):m.start()]
            tail = re.split(r"[,.;?]", before)[-1]
            tail = re.split(r"\b(?:or|and|whose|where|with|who|which|that|for|those|all|held)\b", tail)[-1]
            col = self.column_at(tail.replace(" is ", " ").replace(" are ", " ").replace(" was ", " ")) \
                if tail.strip() else None
            end = m.end()
            after = re.match(r"\s+([a-z][a-z_]*)", low[end:])
            if col is None and after:  # "districts between 200,000 and 2,000,000 residents"
                col = self.column_at(after.group(1))
                end = end + after.end() if col else end
            if col is None:
                a = _value(m.group(1))
                if isinstance(a, int) and 1000 <= a <= 2300:
                    col = _year_col(self.frame)
            if col:
                info = self.frame.columns[col]
                on_year = info.kind == "temporal" and info.temporal != "year" and not re.match(_DATE, m.group(1))
                lead = len(tail.rstrip())
                self.add((max(0, m.start() - lead - 1), end),
                         Filter(col, "between", (_value(m.group(1)), _value(m.group(2))), on_year=on_year))

    def letters(self) -> None:
        """"letters D or S in their first name"."""
        text = self.text
        q = "['\"\u2018\u2019]?"  # the letter may be quoted: "the letter 'a' in their names"
        for m in re.finditer(r"(without|not|no|have|with|has|contain(?:s|ing)?)?\s*(?:the\s+)?letters?\s+"
                             rf"{q}([a-z]){q}(?:\s+(or|and)\s+(?:the\s+letter\s+)?{q}([a-z]){q})?\s+in\s+"
                             r"(?:their|its|the|his|her)?\s*" + _COL_PAT, self.low):
            col = self.column_at(m.group(5))
            if col:
                neg = m.group(1) in ("without", "not", "no")
                letters = [text[m.start(2)], text[m.start(4)]] if m.group(4) else [text[m.start(2)]]
                subs = [Filter(col, "notcontains" if neg else "contains", ch) for ch in letters]
                if len(subs) == 1:
                    self.add(m.span(), subs[0])
                elif m.group(3) == "or" and not neg:
                    self.add(m.span(), Filter("", "or", [[s] for s in subs]))
                else:
                    self.add(m.span(), Filter("", "and", subs))

    def substrings(self) -> None:
        """"with 'x' in their name", "first name ends with the letter m"."""
        text, low = self.text, self.low
        for m in re.finditer(r"\b(?:have|has|with|having|contain|contains|containing)\s+(?:the\s+)?(?:string\s+|substring\s+|word\s+)?"
                             r"['\"]?([a-z0-9]+)['\"]?\s+in\s+(?:their|its|the|his|her)\s+" + _COL_PAT, low):
            col = self.column_at(m.group(2)) or self.named_entity(m.group(2), low[:m.start()])
            if col and self.frame.columns[col].kind == "nominal":
                self.add(m.span(), Filter(col, "contains", text[m.start(1):m.end(1)]))
        for m in re.finditer(_COL_PAT + r"\s+(?:is\s+|are\s+|that\s+|which\s+|does\s+|do\s+)?(not\s+|doesn't\s+|don't\s+)?"
                             r"(end\w*\s+with|start\w*\s+with|begin\w*\s+with|contain\w*|includ\w*)"
                             r"\s+(?:the\s+)?(letters?\s+|string\s+|substring\s+|text\s+|word\s+)?"
                             r"(['\"‘’][a-z0-9 ]+['\"‘’]|[a-z0-9]+)(?![\w'])", low):
            words, start = _own_words(m, 1)
            col = self.column_at(words) or self.named_entity(words, low[m.start(1):start])
            value = m.group(5).strip("'\"‘’")
            if not m.group(4) and (m.group(5) == value and (value in _NOT_PATTERNS or self.matcher.lookup(value))):
                continue  # "names that start with the year": not a text pattern
            if col and self.frame.columns[col].kind == "nominal":
                kind, neg = m.group(3), bool(m.group(2))
                op = "endswith" if kind.startswith("end") else "startswith" if kind.startswith(("start", "begin")) \
                    else "contains"
                if neg and op != "contains":
                    continue
                raw = text[m.start(5):m.end(5)].strip("'\"‘’")
                self.add((start, m.end()), Filter(col, "notcontains" if neg else op, raw))

    def verbs(self) -> None:
        """A column's name as a verb with its value: "students majoring in 600" (Major),
        "not majored in 600", "products priced at 20" (price)."""
        for m in re.finditer(rf"\b(not\s+|n't\s+)?([a-z]{{3,}}?)(?:ing|ed)\s+(?:in|at|as)\s+"
                             rf"(['\"][^'\"]+['\"]|{_NUMBER})(?![\w-])", self.low):
            stem = m.group(2)
            hit = self.matcher.lookup(stem) or self.matcher.lookup(stem + "e")
            if not hit or self.overlaps(m.span()):
                continue
            raw = self.text[m.start(3):m.end(3)]
            value = _value(raw.strip("'\""))
            if _comparable(self.frame.columns[hit[0]], "==", raw, value):
                self.add(m.span(), Filter(hit[0], "!=" if m.group(1) else "==", value))

    def missing(self) -> None:
        """"commission is not null", "excluding missing", "with a known X"."""
        low = self.low
        for m in re.finditer(_COL_PAT + r"\s+(?:is|are|was)\s+(not\s+)?(?:null|missing|empty|nan|none)", low):
            words, start = _own_words(m, 1)
            col = self.column_at(words) or self.named_entity(words, low[m.start(1):start])
            if col:
                self.add((start, m.end()), Filter(col, "notnull" if m.group(2) else "isnull", None))
        for m in re.finditer(r"\b(?:excluding|exclude|without|drop|dropping|ignore|ignoring|skip|skipping|no)\s+"
                             r"(?:the\s+|any\s+)?(?:missing|null|nan|empty|blank|unknown)(?:\s+values?|\s+rows?|\s+data)?"
                             r"(?:\s+(?:of|in|for)\s+" + _COL_PAT + ")?", low):
            col = self.column_at(m.group(1)) if m.group(1) else None
            self.add(m.span(), Filter(col or "*", "notnull", None))  # "*": the columns the chart draws

    def comparisons(self) -> None:
        """The operator and value, then the column named just before them."""
        for pat, op in _CMP:
            for m in re.finditer(rf"(?<![\w<>=!]){pat}\s*(?:the\s+)?(?:(?:value|year|date)\s+(?:of\s+)?)?"
                                 rf"(['\"][^'\"]+['\"]|{_DATE}|{_NUMBER})(?![\w-])", self.low):
                if not self.overlaps(m.span()):
                    negated = re.search(r"\b(?:not|n't)\s+$", self.low[:m.start()])
                    if negated:
                        self._comparison(m, _NEGATED_OP.get(op, op), negated.start())
                    else:
                        self._comparison(m, op, m.start())

    def _comparison(self, m, op: str, start: int) -> None:
        """One comparison `m` whose clause starts at `start` (before a leading "not")."""
        before = self.low[max(0, start - 60):start]
        words = re.split(r"[,.;?]", before)[-1].split()[-5:]
        implied = next((IMPLIED[w] for w in IMPLIED if re.search(rf"\b{w}\b", m.group(0))), None)
        if implied is None and words and words[-1] in IMPLIED and not self.matcher.lookup(words[-1]):
            implied = IMPLIED[words[-1]]  # "rooms that cost more than 120": the price column
        col, tail = None, ""
        if words and words[-1] in ("or", "and") or not words:
            found = self.found
            prev = found[-1][2] if found and start - found[-1][1] < 12 else None
            col = prev.column if prev is not None and prev.op not in ("or", "and") else None
        owner = re.search(r"\b([a-z][a-z0-9_]*) (?:whose|with an?|with the) ([a-z][a-z0-9_]*)$", " ".join(words))
        if col is None and owner and not implied:  # "the problem whose id is 10": problem_id
            col = (self.matcher.lookup(f"{owner.group(1)} {owner.group(2)}") or (None,))[0]
            tail = owner.group(2) if col else tail
        if col is None:
            # only the words after the last joining word: "x or department number"
            tail = re.split(r"\b(?:or|and|whose|where|with|who|which|that|for|of|those|all)\b", " ".join(words))[-1]
            col = self.column_at(tail, implied) if tail.strip() or implied else None
        end = m.end()
        if col is None and op in ("<", ">", "<=", ">="):
            col, end = self._counted_after(m)  # "furniture with more than 10 components"
        if col is None and op in ("<", ">", "<=", ">=") and _PEOPLE.search(" ".join(words)):
            col = self._age_column()  # "people under 40", "students who are over 21"
        raw = self.text[m.start(1):m.end(1)]
        value = _value(raw.strip("'\""))
        info = self.frame.columns.get(col) if col is not None else None
        if info is None or not _comparable(info, op, raw, value):
            return
        if info.kind == "temporal" and info.temporal != "year" and isinstance(value, (int, float)):
            self.add((start - len(" ".join(words)), m.end()), Filter(col, op, int(value), on_year=True))
            return
        lead = len(tail.rstrip()) if not implied else 0
        self.add((max(0, start - lead - 1), end), Filter(col, op, value))

    def _counted_after(self, m):
        """(number column, end) when the compared number is followed by what it counts:
        "more than 10 components" -> Num_of_Component; (None, m.end()) otherwise."""
        after = re.match(r"\s+([a-z][a-z_]*)", self.low[m.end():])
        if not after or not re.fullmatch(_NUMBER, m.group(1)):
            return None, m.end()
        col = self.column_at(after.group(1))
        if col is None or self.frame.columns[col].kind != "quantitative":
            return None, m.end()
        return col, m.end() + after.end()

    def _age_column(self):
        """The one column with 'age' as a word of its name (age, pet_age, Age_at_hire), or None."""
        cols = [c for c in self.matcher.columns if "age" in words_of(c)
                and self.frame.columns[c].kind == "quantitative"]
        return cols[0] if len(cols) == 1 else None

    def years(self) -> None:
        """"in the year 1999 or 2000", "in 2007", "since 1990"."""
        ycol = _year_col(self.frame)
        if not ycol:
            return
        for m in re.finditer(r"\b(in|during|for|since|after|before|until|from|of)\s+(?:the\s+)?(?:years?\s+)?"
                             r"((?:1[5-9]|20|21)\d\d)(?:\s*(,|or|and)\s*((?:1[5-9]|20|21)\d\d))?\b", self.low):
            if self.overlaps(m.span()):
                continue
            on_year = self.frame.columns[ycol].temporal != "year"
            y1 = int(m.group(2))
            op = {"since": ">=", "after": ">", "before": "<", "until": "<=", "from": ">="}.get(m.group(1), "==")
            if m.group(4):
                self.add(m.span(), Filter(ycol, "in", [y1, int(m.group(4))], on_year=on_year))
            else:
                self.add(m.span(), Filter(ycol, op, y1, on_year=on_year))


def _comparable(info, op: str, raw: str, value) -> bool:
    """Whether a compared value suits the column: numbers for numbers and dates, quoted text
    or a date for `==` on text ("rooms cost more than 120" is not about a text column)."""
    if info.kind == "quantitative" and not isinstance(value, (int, float)):
        return False
    if isinstance(value, (int, float)) and info.kind not in ("quantitative", "temporal"):
        return False
    if op == "==" and not raw.startswith(("'", '"')) and not isinstance(value, (int, float)) and \
            not re.match(_DATE, raw):
        return False
    return True


def _year_col(frame: FrameInfo):
    years = [c for c in frame.of_kind("temporal") if c.temporal == "year"]
    if years:
        return years[0].name
    t = frame.first_temporal()
    return t.name if t is not None else None


_JOINERS = re.compile(r"\b(?:or|and|whose|where|with|who|which|that|for|of|those|all|by|per|in)\b")


def _own_words(m, group: int) -> tuple[str, int]:
    """The words of a matched column phrase after its last joining word, and where they start:
    "customers by segment whose name" -> ("name", ...), so the rest stays for the roles."""
    words = m.group(group)
    cut = 0
    for j in _JOINERS.finditer(words):
        cut = j.end()
    return words[cut:].strip(), m.start(group) + cut


def _combine(low: str, found: list) -> list[Filter]:
    """Join neighbouring filters by the word between them: "A or B" -> one `or` filter."""
    if not found:
        return []
    groups: list[list[Filter]] = [[found[0][2]]]
    ored = False
    for (_, e0, _), (s1, _, f) in zip(found, found[1:]):
        between = low[e0:s1]
        if re.search(r"\bor\b", between) and len(between) < 40:
            groups.append([f])
            ored = True
        else:
            groups[-1].append(f)
    if not ored:
        return groups[0]
    return [Filter("", "or", groups)]


def _value(s: str):
    s = s.strip()
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        s = s.replace(",", "")
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    if re.fullmatch(_NUMBER, s):
        return float(s)
    return s


def _singular(w: str) -> str:
    from .nlp import singular
    return singular(w)


def mask(text: str, spans: list) -> str:
    """The text with consumed spans blanked (same length, so token offsets stay valid)."""
    chars = list(text)
    for s, e in spans:
        for i in range(s, min(e, len(chars))):
            chars[i] = " "
    return "".join(chars)

