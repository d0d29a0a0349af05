"""Facts for `%health`: versions, memory, frames. Never data values."""
from __future__ import annotations

import importlib.metadata
import json
import platform
import sys


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def report(_request_json: str = "{}") -> str:
    packages = {}
    for name in ("pandas", "numpy", "pyarrow", "plotly", "orjson", "redis", "openpyxl"):
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    from . import session

    frames = {name: {"rows": int(value.shape[0]), "columns": int(value.shape[1]),
                     "memory_mb": round(value.memory_usage(deep=False).sum() / 2**20, 2)}
              for name, value in session.frames().items()}
    return json.dumps({
        "python": platform.python_version(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "packages": packages,
        "rss_mb": round(_rss_mb(), 1),
        "frames": frames,
    })
