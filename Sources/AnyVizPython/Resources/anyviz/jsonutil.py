"""JSON for Jupyter messages: jupyter_client rejects NaN and Infinity, so they become null."""
from __future__ import annotations

import binascii
import datetime as _dt
import decimal as _decimal
import json
import math

try:  # orjson is much faster for large figures; it writes NaN/Infinity as null by itself.
    import orjson as _orjson
except Exception:  # pragma: no cover - optional
    _orjson = None


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
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, _decimal.Decimal):
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
    if _orjson is not None:
        try:
            return _orjson.dumps(
                value,
                default=_default,
                option=_orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS,
            ).decode("utf-8")
        except TypeError:
            pass
    return json.dumps(_clean(value), default=_default, allow_nan=False, ensure_ascii=False)


def loads(text: str):
    return json.loads(text)
