"""Reading -> chart specification (plan_code.Spec), one function per intent.

Intents, tried in order: a map (latitude/longitude or country columns), a relationship between
two numbers (scatter), a derived measure (ratio of two columns), and the category/time chart
(bar, line, pie, area) that most requests are. Each states its choices in `why`, so the
explanation and `%viz --explain` show how the request was read. Returns None when the request
is better served by the distribution/matrix planner (histogram, box, violin, heatmap, corr).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .intents import Reading
from .plan_code import Spec
from .plan_schema import words_of

_PERIOD_UNITS = {"weekday": "weekday", "monthname": "monthname", "year": "year", "quarter": "quarter",
                 "week": "week", "day": "day", "hour": "hour", "month": "month"}
_UNIT_WORD = re.compile(r"\b(?:per|by|each|every|a|in|of)\s+(?:the\s+)?(weekday|day of (?:the )?week|month of (?:the )?year|"
                        r"month|year|quarter|week|day|hour)s?\b|\b(monthly|yearly|annual|annually|weekly|daily|"
                        r"hourly|quarterly)\b")
_ADVERB_UNIT = {"monthly": "month", "yearly": "year", "annual": "year", "annually": "year", "weekly": "week",
                "daily": "day", "hourly": "hour", "quarterly": "quarter"}


def build(r: Reading, ctx) -> Spec | None:
    """The chart specification for a Reading, or None to let the distribution planner decide."""
    for c in r.columns:  # "total number of id": a sum of a number, a count of anything else
        if c.agg == "total_count":
            c.agg = "sum" if _numeric(ctx, c.name) else "count"
    if r.slot_unknown and not r.named("subject"):
        raise not_understood(r, ctx)
    if r.chart in ("histogram", "box", "violin", "heatmap") and not _category_histogram(r, ctx):
        return None
    if r.distribution and r.chart in (None, "histogram") and _one_number_distribution(r, ctx):
        return None
    if r.relationship and len(r.named()) < 2 and r.chart is None:
        return None
    if r.map:
        spec = _map(r, ctx)
        if spec is not None:
            return spec
    if r.chart == "scatter" or (r.chart is None and not r.count and _two_numbers(r, ctx)):
        spec = _scatter(r, ctx)
        if spec is not None:
            return spec
    return _category_or_time(r, ctx)


# --------------------------------------------------------------------------- helpers

def _numeric(ctx, col) -> bool:
    if isinstance(col, list):
        return all(_numeric(ctx, c) for c in col)
    return col in ctx.frame.columns and ctx.kind(col) == "quantitative"


def _category_histogram(r: Reading, ctx) -> bool:
    """A "histogram" of a category or of counts per group is a bar chart (a count per value)."""
    if r.chart != "histogram":
        return False
    cols = r.named()
    subj = r.named("subject")
    if r.named("color") or (len(subj) == 1 and _numeric(ctx, subj[0]) and not ctx.categorical(subj[0])
                            and not r.named("group") and not r.count):
        return False
    return bool(cols) and (len(cols) >= 2 or not _numeric(ctx, cols[0]) or ctx.categorical(cols[0])
                           or r.count) and not (len(cols) == 1 and _numeric(ctx, cols[0])
                                                and not ctx.categorical(cols[0]))


def _one_number_distribution(r: Reading, ctx) -> bool:
    """"distribution of tip by day", "weight distribution by origin": one measure's spread."""
    if r.count or r.bin or any(c.agg for c in r.columns):
        return False
    subj = [c for c in r.columns if c.role == "subject"]
    return len(subj) == 1 and _numeric(ctx, subj[0].name) and not ctx.categorical(subj[0].name) \
        or not r.columns


def not_understood(r: Reading, ctx):
    """A clear message instead of a guessed chart: the words not understood, the closest
    columns and requests that would work on this frame (with --df, so they run as shown)."""
    import difflib

    from anyviz.errors import NotUnderstood
    cols = list(ctx.frame.columns)
    words = r.slot_unknown or r.unknown
    close = []
    for w in words:
        close += difflib.get_close_matches(w.lower(), [c.lower() for c in cols], n=3, cutoff=0.4)
    close_cols = [c for c in cols if c.lower() in close][:3]
    shown = ", ".join(f"'{w}'" for w in words[:4]) or "the request"
    msg = f"Not understood: {shown} (no column of {ctx.frame_name} has that name)."
    if close_cols:
        msg += " Closest columns: " + ", ".join(close_cols) + "."
    msg += " All columns: " + ", ".join(cols[:30]) + ("…" if len(cols) > 30 else "") + "."
    examples = suggestions(ctx)
    if examples:
        msg += " Requests that would work: " + "; ".join(examples) + "."
    return NotUnderstood(msg)


def suggestions(ctx) -> list[str]:
    """Two or three requests that plan cleanly on this frame, naming it with --df."""
    frame = ctx.frame
    q = lambda c: c if str(c).replace("_", "").isalnum() else f"'{c}'"  # noqa: E731
    nums = [c.name for c in frame.of_kind("quantitative") if not c.idlike]
    cats = [c.name for c in frame.columns.values() if c.kind in ("nominal", "boolean")
            and 2 <= c.distinct <= 30 and not c.idlike]
    t = frame.first_temporal()
    df = f"--df {ctx.frame_name} " if ctx.frame_name and ctx.frame_name.isidentifier() else ""
    out = []
    if nums and cats:
        out.append(f"%viz {df}average {q(nums[0])} by {q(cats[0])}")
    if cats:
        out.append(f"%viz {df}count by {q(cats[0])}")
    if t is not None and nums:
        out.append(f"%viz {df}{q(nums[0])} over time")
    elif len(nums) >= 2:
        out.append(f"%viz {df}{q(nums[1])} vs {q(nums[0])}")
    return out[:3]


def _two_numbers(r: Reading, ctx) -> bool:
    subj = [c for c in r.columns if c.role == "subject" and not c.agg]
    nums = [c for c in subj if _numeric(ctx, c.name) and (r.dependent_first or r.relationship
                                                          or not ctx.info(c.name).discrete)]
    return len({c.name for c in nums}) >= 2 and (r.relationship or r.dependent_first) and not r.bin


def _explicit_sort(r: Reading, x, y, ctx) -> str | None:
    if not r.sort:
        return None
    target, order = r.sort
    if target and target.startswith("col:"):
        words = target[4:]
        col = None
        hit = ctx.matcher.lookup(words)
        if hit:
            col = hit[0]
        else:
            for w in words.split():
                cols = ctx.matcher.partial.get(w.rstrip("s"))
                if cols:
                    col = cols[0]
                    break
        target = "x" if col is not None and col == x else ("y" if col is not None else None)
    if target is None:
        target = "y" if y is not None or r.count else "x"
    if target == "x":
        return "x" if order == "asc" else "x_desc"
    return order


# --------------------------------------------------------------------------- intents

def _scatter(r: Reading, ctx) -> Spec | None:
    subj = [c.name for c in r.columns if c.role == "subject"]
    groups = [c.name for c in r.columns if c.role in ("group", "color")]
    x = r.axes.get("x")
    y = r.axes.get("y")
    counted_alone = r.count and len(set(subj + groups)) == 1 and not any(c.agg for c in r.columns)
    if y == "*" or (r.count and groups) or counted_alone:
        # "classroom number and the number of students in each": counts per group, drawn as points
        x = x if x not in (None, "*") else (groups[0] if groups else (subj[0] if subj else None))
        if x is None:
            return None
        spec = Spec(chart="scatter", x=x, y=None, agg="count", filters=r.filters, rows=ctx.frame.rows)
        ctx.why.append(f"number of rows per {x}")
        return spec
    pool = [c for c in subj + groups if c not in (x, y)]
    nums = [c for c in pool if _numeric(ctx, c)]
    if x is None and y is None and len(nums) < 2 and r.chart == "scatter" and len(pool) >= 2:
        nums = pool  # an explicit scatter of a code or label against a number
    if x is None and y is None:
        if len(nums) < 2:
            return None
        first, second = nums[0], nums[1]
        if r.dependent_first:
            y, x = first, second
            ctx.why.append(f"{y} depends on {x}, so {x} is on x")
        else:
            x, y = first, second
    elif x is None:
        x = next((c for c in nums if c != y), None)
    elif y is None:
        y = next((c for c in nums if c != x), None)
    if x is None or y is None:
        return None
    color = next((c for c in groups if c not in (x, y)), None) or next(
        (c for c in pool if c not in (x, y) and not _numeric(ctx, c)), None)
    agg = next((c.agg for c in r.columns if c.name == y and c.agg), None)
    spec = Spec(chart="scatter", x=x, y=y, color=color, filters=r.filters, top=r.top, rows=ctx.frame.rows)
    if agg and agg != "count" and color is None:
        spec.agg = agg
    ctx.why.append(f"{y} against {x}" + (f", one colour per {color}" if color else ""))
    return spec


def _iso3_codes(codes) -> dict:
    """ISO-2 → ISO-3 for the codes in a column (plotly's world geometry knows ISO-3 and names).
    The mapping is written into the chart code, so the code runs without pycountry."""
    import pycountry

    out = {}
    for code in codes.dropna().unique():
        country = pycountry.countries.get(alpha_2=str(code))
        if country is not None:
            out[str(code)] = country.alpha_3
    return out


def _map(r: Reading, ctx) -> Spec | None:
    from .plan_schema import geo_columns
    geo = geo_columns(ctx.frame)
    nums = [c.name for c in r.columns if _numeric(ctx, c.name) and c.name not in geo.values()]
    if "lat" in geo and "lon" in geo:
        spec = Spec(chart="scatter_geo", x=geo["lon"], y=geo["lat"], filters=r.filters, rows=ctx.frame.rows)
        spec.color = nums[0] if nums else None
        ctx.why.append(f"points at {geo['lat']}/{geo['lon']}")
        return spec
    if geo.keys() & {"country", "iso3", "iso2"}:
        loc = geo.get("iso3") or geo.get("iso2") or geo["country"]
        value = nums[0] if nums else None
        agg = next((c.agg for c in r.columns if c.name == value and c.agg), None) or ("sum" if value else "count")
        spec = Spec(chart="choropleth", x=loc, y=value, agg=agg, filters=r.filters, rows=ctx.frame.rows)
        spec.columns = ["ISO-3" if "iso3" in geo or "iso2" in geo else "country names"]
        if "iso3" not in geo and "iso2" in geo:
            spec.location_codes = _iso3_codes(ctx.df[loc])
        ctx.why.append(f"countries from {loc} (built-in world geometry)")
        return spec
    ctx.notes.append("a map needs latitude/longitude or country columns; drew a chart instead")
    return None


def _derived(r: Reading, ctx):
    """"tip percentage", "profit margin", "X per Y" / "ratio of A to B": a measure computed from
    two columns, (name, numerator, denominator, scale)."""
    low = r.text.lower()
    m = re.search(r"\bratio of ([a-z0-9_ ]+?) (?:to|and|over) ([a-z0-9_ ]+?)(?= by| per| for| across|$|,)", low)
    if m:
        a, b = ctx.matcher.lookup(m.group(1)), ctx.matcher.lookup(m.group(2))
        if a and b and _numeric(ctx, a[0]) and _numeric(ctx, b[0]):
            return (f"{a[0]} / {b[0]}", a[0], b[0], 1)
    m = re.search(r"\b([a-z0-9_]+) (percentage|percent|share|rate|margin)\b", low)
    if m:
        part = ctx.matcher.lookup(m.group(1))
        if m.group(1) == "profit" and not part:
            part = ctx.matcher.lookup("profit")
        if part and _numeric(ctx, part[0]):
            base_words = ["total bill", "bill", "total", "sales", "revenue", "amount", "price", "income"]
            base = next((ctx.matcher.lookup(w)[0] for w in base_words if ctx.matcher.lookup(w)
                         and ctx.matcher.lookup(w)[0] != part[0] and _numeric(ctx, ctx.matcher.lookup(w)[0])), None)
            if base:
                scale = 100 if m.group(2) in ("percentage", "percent") else 1
                return (f"{part[0]} {m.group(2)}", part[0], base, scale)
    m = re.search(r"\bgrowth(?: rate)? (?:of|in) (?:the )?([a-z0-9_ ]+?)(?= per| by| over| each| for| in|$|,)|"
                  r"\b([a-z0-9_]+) growth\b", low)
    if m:
        hit = ctx.matcher.lookup(m.group(1) or m.group(2))
        if hit and _numeric(ctx, hit[0]):
            return (f"growth of {hit[0]} (%)", hit[0], None, "growth")
    return None


def _label_column(ctx):
    """The column that names a row (name, title), for "for each <row noun>"."""
    cols = [c for c in ctx.frame.columns.values() if c.kind == "nominal"]
    named = [c for c in cols if set(c.name.lower().replace("_", " ").split()) & {"name", "title", "label"}]
    pick = named or [c for c in cols if c.idlike] or cols
    return pick[0].name if pick else None


def _time_column(ctx):
    t = ctx.frame.first_temporal()
    return t.name if t is not None else None


def _bin_from_words(r: Reading, ctx):
    """"per month", "by weekday", "yearly" when those words are not column names."""
    for m in _UNIT_WORD.finditer(r.text.lower()):
        word = m.group(1) or m.group(2)
        if ctx.matcher.lookup(word) and not _ADVERB_UNIT.get(word):
            continue
        if word in _ADVERB_UNIT:
            return _ADVERB_UNIT[word]
        if word.startswith("day of") or word == "weekday":
            return "weekday"
        if word.startswith("month of"):
            return "monthname"
        return word
    return None


@dataclass
class _Pick:
    """The bar/line/pie being read from a request: each step below fills in part of it."""
    x: object = None
    y: object = None
    count: bool = False
    agg: str | None = None
    color: str | None = None
    facet: str | None = None
    unit: str | None = None
    bin_src: str | None = None
    derived: list | None = None
    groups: list = field(default_factory=list)
    subjects: list = field(default_factory=list)
    counted: list = field(default_factory=list)


def _category_or_time(r: Reading, ctx) -> Spec | None:
    """A bar, line or pie: columns by role, then x, the measure and its aggregation, the time
    axis and the chart type. None when the request is not one of these."""
    s = _columns_by_role(r, ctx)
    _first_x(r, ctx, s)
    _measure_and_aggregation(r, ctx, s)
    _x_from_values_or_labels(r, ctx, s)
    _x_from_subjects(r, ctx, s)
    _measure_fallbacks(r, ctx, s)
    if s.x is None and s.derived is None:
        if s.y is None and not s.count:
            return None
        if r.over_time or s.unit:
            s.x = _time_column(ctx)
        if s.x is None:
            return None
    _time_series(r, ctx, s)
    chart = _bar_line_or_pie(r, ctx, s)
    if chart not in ("bar", "line", "pie", "area"):
        return None
    return _aggregate_spec(r, ctx, s, chart)


def _columns_by_role(r: Reading, ctx) -> _Pick:
    """Aggregation words resolved per column, groups ordered (time first), colour, facet and
    the time unit asked for."""
    cols = r.columns
    s = _Pick(x=r.axes.get("x") if r.axes.get("x") != "*" else None, y=r.axes.get("y"))
    s.count = r.count or s.y == "*"
    if s.y == "*":
        s.y = None
    for c in cols:  # "total number of id": a sum of a number, a count of anything else
        if c.agg == "total_count":
            c.agg = "sum" if _numeric(ctx, c.name) else "count"
    for c in cols:  # "the number of floors": a column that already counts things is its own measure
        if c.agg == "count" and _numeric(ctx, c.name) and not ctx.info(c.name).idlike and \
                "id" not in c.name.lower().replace("_", " ").split() and c.role == "subject" and \
                c.how != "alias":
            c.agg = None
    s.counted = [c for c in cols if c.agg in ("count",)]
    if s.counted and not r.axes.get("y"):
        s.count = True
    s.groups = [c for c in cols if c.role == "group"]
    colors = [c for c in cols if c.role == "color"]
    facets = [c for c in cols if c.role == "facet"]
    s.color = colors[0].name if colors else None
    times = [g for g in s.groups if ctx.kind(g.name) == "temporal" and ctx.info(g.name).temporal != "year"]
    if len(s.groups) > 1 and times and s.groups[0].name != times[0].name and not r.axes.get("x"):
        s.groups = [times[0]] + [g for g in s.groups if g is not times[0]]  # the time axis goes on x
    if not s.color and len({g.name for g in s.groups}) > 1 and not r.axes.get("x"):
        s.color = [g.name for g in s.groups if g.name != s.groups[0].name][0]
    s.facet = facets[0].name if facets else None
    if r.bin:
        s.bin_src, s.unit = r.bin
        if s.unit in ("month_any", "time"):
            s.unit = "monthname"
    elif (u := _bin_from_words(r, ctx)) is not None:
        s.unit = u
    s.derived = _derived(r, ctx)
    if s.derived and s.derived[3] == "growth" and not s.unit and not s.groups and _time_column(ctx):
        r.over_time = True  # growth is a change over time
    return s


def _first_x(r: Reading, ctx, s: _Pick) -> None:
    """x: the axis named, the binned date, the first grouping column; a number on x with a
    category named ranks the category by it ("countries by population")."""
    cols = r.columns
    if s.x is None and s.bin_src:
        s.x = s.bin_src
    if s.x is None and s.groups:
        cand = [g for g in s.groups if not g.agg]
        s.x = (cand or s.groups)[0].name
    s.subjects = [c for c in cols if c.role == "subject" and c.name != s.x]
    if s.x is not None and _numeric(ctx, s.x) and not ctx.categorical(s.x) and r.axes.get("x") is None \
            and not r.bin:
        cats = [c for c in s.subjects if not _numeric(ctx, c.name) and ctx.kind(c.name) == "nominal"]
        label = None if cats or not (r.row_noun or r.entity) else _label_column(ctx)
        if (cats or label) and s.y is None and not [c for c in s.subjects if _numeric(ctx, c.name)]:
            s.y, s.x = s.x, (cats[0].name if cats else label)  # "countries by population": rank them
            s.subjects = [c for c in cols if c.role == "subject" and c.name not in (s.x, s.y)]
            ctx.why.append(f"{s.x} ranked by {s.y}")
    if s.derived:
        s.subjects = [c for c in s.subjects if c.name not in s.derived[1:3]]


def _measure_and_aggregation(r: Reading, ctx, s: _Pick) -> None:
    """y: the axis named, else a number mentioned with an aggregate word."""
    if s.y is None:
        with_agg = [c for c in r.columns if c.agg and c.agg != "count" and c.name != s.x
                    and _numeric(ctx, c.name)]
        if with_agg:
            s.y, s.agg = with_agg[0].name, with_agg[0].agg
    else:
        s.agg = r.axis_agg or next((c.agg for c in r.columns if c.name == s.y and c.agg), None)


def _x_from_values_or_labels(r: Reading, ctx, s: _Pick) -> None:
    """No x yet: the values named in a filter, the rows' label column, the counted column, or
    the time column for "over time"."""
    subjects = s.subjects
    if s.x is None and not s.groups:
        named_values = next((f.column for f in r.filters if f.op == "in" and not f.on_year), None)
        if named_values is None and not [c for c in subjects if not _numeric(ctx, c.name)]:
            named_values = next((f.column for f in r.filters if f.op in ("contains", "startswith", "endswith")
                                 and ctx.kind(f.column) == "nominal"), None)  # "whose name ends with m: their salary"
        if named_values and (s.y is not None or s.count and not subjects and not s.counted
                             or [c for c in subjects if _numeric(ctx, c.name)]):
            s.x = named_values  # "tips between lunch and dinner", "number of male and female staff"
            r.compare_values = True
            ctx.why.append(f"one bar per {s.x} named")
    ids = [c for c in subjects if _row_id(ctx, c.name)]
    if s.x is None and r.entity and ids and subjects[0] is ids[0] and s.y is None and \
            [c for c in subjects if c.name != ids[0].name and _numeric(ctx, c.name)]:
        s.x = ids[0].name  # "the id and weight of every pet": each row by the id named first
        s.subjects = subjects = [c for c in subjects if c.name != s.x]
        ctx.why.append(f"each row is labelled by {s.x}")
    if s.x is None and r.entity and not [c for c in subjects if not _numeric(ctx, c.name) and c.name != s.y]:
        s.x = _label_column(ctx)
        if s.x:
            ctx.why.append(f"each row is labelled by {s.x}")
    if s.x is None and s.counted and not [c for c in subjects if c.agg != "count"]:
        s.x = s.counted[0].name
    if s.x is None and (r.over_time or s.unit) and _time_column(ctx) and not any(
            ctx.kind(c.name) == "temporal" for c in subjects):
        s.x = _time_column(ctx)
        nums = [c.name for c in subjects if _numeric(ctx, c.name) and c.name != s.y]
        if s.y is None and len(nums) > 1 and not any(c.agg for c in subjects):
            s.y = nums  # a wide frame: one line per named column
        elif s.y is None and nums:
            s.y = nums[0]


def _row_id(ctx, col) -> bool:
    """An id column (PetID, customer_id): a label for each row rather than a quantity."""
    return ctx.info(col).idlike or words_of(col)[-1:] == ["id"]


def _x_from_subjects(r: Reading, ctx, s: _Pick) -> None:
    """Still no x: the time column for a bare period, else the first column mentioned (a
    category or a date named after a number goes on x: "age and hometown")."""
    if s.x is not None:
        return
    if s.unit and not s.subjects:
        s.x = _time_column(ctx)
        return
    order = [c.name for c in s.subjects if c.name != s.y]
    if not order:
        return
    first, rest = order[0], order[1:]
    if s.y is None and rest and _numeric(ctx, first) and not _numeric(ctx, rest[0]) and \
            ctx.kind(rest[0]) == "nominal" and not s.count:
        s.x, s.y = rest[0], first  # "age and hometown": the category goes on x
    elif s.y is None and rest and _numeric(ctx, first) and ctx.kind(rest[0]) == "temporal":
        s.x, s.y = rest[0], first
    else:
        s.x = first
        if s.y is None and rest:
            s.y = rest[0]


def _measure_fallbacks(r: Reading, ctx, s: _Pick) -> None:
    """y from the remaining numbers; text y becomes a count (and the colour); "number of X"
    of a numeric column sums it."""
    if s.y is None and not s.count:
        rest = [c for c in s.subjects if c.name not in (s.x, s.color) and c.name != s.y and c.agg != "count"]
        nums = [c for c in rest if _numeric(ctx, c.name)]
        if nums:
            s.y = nums[0].name
            s.agg = s.agg or nums[0].agg
        else:
            split = [c for c in rest if _splits_bars(r, s, c)]
            if split and not s.color and r.chart != "pie" and ctx.kind(split[0].name) != "temporal":
                s.color = split[0].name  # "count by A and B": B splits each bar
    if s.y is not None and s.y == s.x and not _numeric(ctx, s.y):
        s.y, s.count = None, True  # "location versus how many location": a count per location
    if s.y is not None and not _numeric(ctx, s.y) and s.y != s.x:
        named = [c for c in r.columns if c.name == s.y]
        if not s.color and ctx.categorical(s.y) and all(_splits_bars(r, s, c) for c in named):
            s.color = s.y
        s.y, s.count = None, True
    if s.agg is None and s.y is not None:
        s.agg = next((c.agg for c in r.columns if c.name == s.y and c.agg), None) or r.agg
    if s.agg == "count" and s.y is not None:
        s.count, s.agg = True, None
        s.y = None
    if s.count and s.y is not None and s.agg is None:
        s.count = False  # "number of platforms" is a column: its values are summed below


def _splits_bars(r: Reading, s: _Pick, c) -> bool:
    """Whether a second text column named in a count splits the bars. Not when it is what is
    counted ("position and the number of players", "how many allergies"), the owner of the
    values on x ("the results of all festivals"), or held to one value by a filter ("whose type
    code is 'SALE'": one colour says nothing)."""
    if c.after_of or c.connector == "many" or c.name in {k.name for k in s.counted}:
        return False
    return not any(f.column == c.name and f.op in ("==", "contains", "notcontains", "startswith", "endswith")
                   for f in r.filters)


def _time_series(r: Reading, ctx, s: _Pick) -> None:
    """"over time" / a named period puts the date column on x; categories become series."""
    t_col = _time_column(ctx)
    if (r.over_time or r.chart in ("line", "area")) and (s.x is None or ctx.kind(s.x) != "temporal") and t_col \
            and not (r.chart in ("line", "area") and s.x is not None and r.axes.get("x")):
        if s.x is not None and s.x != t_col:
            if s.y is None and _numeric(ctx, s.x) and not s.count:
                s.y = s.x
            elif not s.color and ctx.categorical(s.x):
                s.color = s.x
        s.x = t_col
        ctx.why.append(f"'over time' uses the date column {t_col}")
    if s.unit and s.x is not None and ctx.kind(s.x) != "temporal" and t_col and not r.bin:
        if not s.color and ctx.categorical(s.x):
            s.color = s.x
        s.x = t_col
    if s.x is not None and ctx.kind(s.x) == "temporal" and not s.color:
        ent = next((c.name for c in s.subjects if c.name not in (s.x, s.y) and ctx.kind(c.name) == "nominal"), None)
        val = next((f.column for f in r.filters if f.op == "in" and f.column != s.x), None)
        if ent or val:
            s.color = ent or val  # "population of the countries in Asia over the years": one line each
            ctx.why.append(f"one line per {s.color}")


def _bar_line_or_pie(r: Reading, ctx, s: _Pick) -> str | None:
    """The chart asked for (a histogram here is a bar of counts), else pie for shares, line
    along time (counts per year of a year column stay bars unless a trend is asked), else bar."""
    if r.chart == "histogram":
        return "bar"
    if r.chart is not None:
        return r.chart
    x, unit = s.x, s.unit
    x_temporal = x is not None and ctx.kind(x) == "temporal" and unit not in ("weekday", "monthname")
    if r.share and not s.derived:
        return "pie"
    if (x_temporal or (r.over_time and x is not None and unit not in ("weekday", "monthname"))) and not (
            ctx.info(x).temporal == "year" and s.agg == "count" and s.y is None and not r.over_time
            and not unit):
        return "line"
    return "bar"


def _aggregate_spec(r: Reading, ctx, s: _Pick, chart: str) -> Spec:
    """The specification: drawn columns without gaps for "*" filters, the derived measure,
    stacking, the time bin, the order, and distinct counts for "how many X per Y"."""
    x, y, color = s.x, s.y, s.color
    if isinstance(y, list) and chart not in ("line", "area"):
        y = y[0]
    drawn = [c for c in ([x] + (y if isinstance(y, list) else [y]) + [color]) if c in ctx.frame.columns]
    r.filters = [g for f in r.filters for g in (
        [type(f)(c, "notnull", None) for c in drawn] if f.column == "*" else [f])]
    if color is not None and (color == y or (isinstance(y, list) and color in y)):
        color = None
    spec = Spec(chart=chart, x=x, y=y, color=color if color != x else None, facet=s.facet,
                agg="count" if y is None and not s.derived else s.agg, filters=r.filters, top=r.top,
                horizontal=r.horizontal, rows=ctx.frame.rows)
    if s.derived:
        _apply_derived(spec, s.derived, x, ctx)
    _stacking_and_bin(r, ctx, spec, s.unit, y)
    spec.sort = _explicit_sort(r, x, spec.y if spec.agg != "count" else "count", ctx)
    spec._sort_explicit = spec.sort is not None  # type: ignore[attr-defined]
    # raw values, not an aggregate: a listing ("name and age of the drivers") keeps every row
    spec._listing = (spec.agg is None and not s.derived and not any(  # type: ignore[attr-defined]
        c.role in ("group", "color") for c in r.columns) and not r.bin and not s.unit and not r.over_time
        and not getattr(r, "compare_values", False))
    distinct = [c.name for c in r.columns if c.connector == "many" and c.name not in (x, color)
                and ctx.kind(c.name) == "nominal"]
    if spec.agg == "count" and distinct and ctx.info(distinct[0]).distinct < 0.9 * ctx.frame.rows:
        spec.agg, spec.y = "nunique", distinct[0]  # "how many countries per continent": distinct ones
        ctx.why.append(f"'how many {distinct[0]}' counts distinct {distinct[0]} values in each group")
    return spec


def _apply_derived(spec: Spec, derived: list, x, ctx) -> None:
    """A ratio or growth measure ("revenue per employee", "growth of sales") replaces y."""
    name, num, den, scale = derived
    spec.derived = [name, num, den, scale]
    spec.y, spec.agg = name, None
    if den is None:
        ctx.why.append(f"{name}: change of total {num} from one {x} to the next, in percent")
        if spec.chart == "pie":
            spec.chart = "bar"
    else:
        ctx.why.append(f"{name} = total {num} / total {den}" + (" x 100" if scale == 100 else "")
                       + f" per {x}")


def _stacking_and_bin(r: Reading, ctx, spec: Spec, unit, y) -> None:
    """Stacked or grouped bars as asked; a period unit on a date x bins it (years stay years)."""
    x = spec.x
    if r.stacked:
        spec.barmode = "stack"
        if not spec.color:
            other = next((c.name for c in r.columns if c.name not in (x, y) and not _numeric(ctx, c.name)), None)
            spec.color = other
    elif r.grouped_bars:
        spec.barmode = "group"
    if unit and x is not None and ctx.kind(x) == "temporal":
        if ctx.info(x).temporal == "year":
            if unit not in ("year",):
                ctx.notes.append(f"{x} holds years only, so it cannot be split by {unit}")
        else:
            spec._bin = (x, _PERIOD_UNITS.get(unit, unit))  # type: ignore[attr-defined]

