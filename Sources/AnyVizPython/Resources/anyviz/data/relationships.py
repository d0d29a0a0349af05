"""Candidate join keys between frames: names first, values to confirm.

A pair of columns is a candidate when the names say so (the same key-like name in both frames,
`customer_id` in orders vs `id` in customers, or close abbreviations like `cust_id`) and at least
half of the distinct values on the referencing side are found on the other side. Value overlap
and uniqueness are computed on distinct values with hashing (vectorised), so this stays fast on
millions of rows. Pure value matching without a name hint is not attempted: small integer
columns overlap by accident and would swamp the list with false keys.
"""
from __future__ import annotations

import re

import pandas as pd

MIN_OVERLAP = 0.5
_KEY_SUFFIXES = ("id", "key", "code", "no", "num", "number", "sku", "uuid")


def _norm(name) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def _singular(name: str) -> str:
    n = _norm(name)
    if n.endswith("ies"):
        return n[:-3] + "y"
    if n.endswith(("ses", "xes", "zes", "ches", "shes")):
        return n[:-2]
    if n.endswith("s") and not n.endswith("ss"):
        return n[:-1]
    return n


def _keyish(n: str) -> bool:
    return n.endswith(_KEY_SUFFIXES)


def _split_key(n: str) -> tuple[str, str]:
    """'customerid' -> ('customer', 'id')."""
    for suf in sorted(_KEY_SUFFIXES, key=len, reverse=True):
        if n.endswith(suf):
            return n[: -len(suf)], suf
    return n, ""


def _usable(s: pd.Series) -> bool:
    """Join keys are integers or text; floats, booleans and dates make poor keys."""
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
        return False
    return (pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)
            or isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object)


def names_match(frame_a: str, col_a, frame_b: str, col_b) -> bool:
    na, nb = _norm(col_a), _norm(col_b)
    if not na or not nb:
        return False
    if na == nb:  # bare "id" in two tables says nothing: each table has its own ids
        return _keyish(na) and na not in _KEY_SUFFIXES
    for x, fx, y, fy in ((na, frame_a, nb, frame_b), (nb, frame_b, na, frame_a)):
        # orders.customer_id vs customers.id (or customers.key / .code)
        if y in _KEY_SUFFIXES and x in (_singular(fy) + y, _norm(fy) + y):
            return True
    if _keyish(na) and _keyish(nb):
        (pa_, sa), (pb, sb) = _split_key(na), _split_key(nb)
        if sa == sb and len(pa_) >= 3 and len(pb) >= 3 and (pa_.startswith(pb) or pb.startswith(pa_)):
            return True  # cust_id vs customer_id
    return False


def _distinct(s: pd.Series) -> pd.Index:
    return pd.Index(s.dropna().unique())


def _overlap(left: pd.Index, right: pd.Index) -> float:
    """Fraction of the left side's distinct values found on the right (vectorised isin)."""
    if len(left) == 0:
        return 0.0
    if left.dtype.kind != right.dtype.kind:  # 7 vs "7": compare as text
        left, right = left.astype(str), right.astype(str)
    return float(left.isin(right).mean())


def detect(frames: dict) -> list[dict]:
    """Relationships among `frames` (name -> DataFrame); see the module docstring.

    Each: {left, left_col, right, right_col, kind, overlap}; `left` is the referencing side
    (many side for many-to-one), `overlap` the fraction of its distinct keys found in `right`.
    """
    names = list(frames)
    stats: dict = {}

    def col_stats(frame, col):
        key = (frame, col)
        if key not in stats:
            s = frames[frame][col]
            distinct = _distinct(s)
            stats[key] = (distinct, len(distinct) == int(s.notna().sum()))
        return stats[key]

    found = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            da, db = frames[a], frames[b]
            # Every name rule needs key-like names on both sides: filter first (10,000 columns).
            keys_a = [c for c in da.columns if _keyish(_norm(c)) and _usable(da[c])]
            keys_b = [c for c in db.columns if _keyish(_norm(c)) and _usable(db[c])]
            for ca in keys_a:
                for cb in keys_b:
                    if not names_match(a, ca, b, cb):
                        continue
                    dist_a, uniq_a = col_stats(a, ca)
                    dist_b, uniq_b = col_stats(b, cb)
                    if uniq_a and not uniq_b:  # b references a
                        left, lc, right, rc, kind = b, cb, a, ca, "many-to-one"
                        ov = _overlap(dist_b, dist_a)
                    elif uniq_b and not uniq_a:
                        left, lc, right, rc, kind = a, ca, b, cb, "many-to-one"
                        ov = _overlap(dist_a, dist_b)
                    else:
                        kind = "one-to-one" if uniq_a and uniq_b else "many-to-many"
                        # the side named like "<other>_id" is the referencing one
                        if _norm(cb) in _KEY_SUFFIXES and _norm(ca) not in _KEY_SUFFIXES:
                            left, lc, right, rc = a, ca, b, cb
                        elif _norm(ca) in _KEY_SUFFIXES and _norm(cb) not in _KEY_SUFFIXES:
                            left, lc, right, rc = b, cb, a, ca
                        else:
                            left, lc, right, rc = a, ca, b, cb
                        ov = _overlap(*(( dist_a, dist_b) if left == a else (dist_b, dist_a)))
                    if ov >= MIN_OVERLAP:
                        found.append({"left": left, "left_col": str(lc), "right": right,
                                      "right_col": str(rc), "kind": kind, "overlap": round(ov, 4)})
    found.sort(key=lambda r: (-r["overlap"], r["left"], r["right"]))
    return found


def describe(rel: dict) -> str:
    return (f"{rel['left']}.{rel['left_col']} → {rel['right']}.{rel['right_col']} "
            f"({rel['kind']}, {rel['overlap'] * 100:.0f}% of keys match)")
