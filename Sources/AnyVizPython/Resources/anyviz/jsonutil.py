"""JSON for Jupyter messages: jupyter_client rejects NaN and Infinity, so they become null."""
from __future__ import annotations

import binascii
import json
import math

#: orjson, much faster for large figures (it writes NaN/Infinity as null by itself), imported on
#: first use. Its import (dataclasses, inspect: ~5 ms) is kept off the kernel's first cell:
#: `defer_fast_encoder()` leaves small early outputs to the standard library's encoder until
#: `load_fast_encoder()` has run in the background.
_orjson = None
_fast_encoder_wanted = True


def defer_fast_encoder() -> None:
    """Until `load_fast_encoder()` runs, encode with the standard library (same JSON)."""
    global _fast_encoder_wanted
    _fast_encoder_wanted = False


def load_fast_encoder() -> None:
    """Import orjson (if installed) for every later `dumps`."""
    global _orjson, _fast_encoder_wanted
    try:
        import orjson
    except Exception:  # pragma: no cover - optional
        orjson = None
    _orjson, _fast_encoder_wanted = orjson, False


def _fast_encoder():
    if _fast_encoder_wanted and _orjson is None:
        load_fast_encoder()
    return _orjson


def _clean(value):
    """Recursively replace non-finite floats by None and make common scalars serializable."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _default(obj):
    if isinstance(obj, (bytes, bytearray, memoryview)):
        # Raw bytes (a `_repr_png_` that returns the file's bytes) travel as base64, as
        # jupyter_client's json_default sends them under ipykernel.
        return binascii.b2a_base64(bytes(obj), newline=False).decode("ascii")
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return _clean(obj.item())
        if isinstance(obj, np.ndarray):
            return _clean(obj.tolist())
    except Exception:
        pass
    import datetime  # here, as numpy and pandas: off the kernel's start
    import decimal

    if isinstance(obj, (datetime.datetime, datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, decimal.Decimal):
        return _clean(float(obj))
    if isinstance(obj, (set, frozenset)):
        return _clean(sorted(obj, key=str))
    try:
        import pandas as pd

        if obj is pd.NaT or obj is pd.NA:
            return None
        if isinstance(obj, pd.Timestamp):
            return obj.isoformat()
    except Exception:
        pass
    return str(obj)


def dumps(value) -> str:
    """Serialize to a JSON string that is always valid for Jupyter (no NaN/Infinity)."""
    orjson = _fast_encoder()
    if orjson is not None:
        try:
            return orjson.dumps(
                value,
                default=_default,
                option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
            ).decode("utf-8")
        except TypeError:
            pass
    return json.dumps(_clean(value), default=_default, allow_nan=False, ensure_ascii=False)


def loads(text: str):
    return json.loads(text)
