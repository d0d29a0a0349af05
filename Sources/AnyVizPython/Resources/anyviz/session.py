"""State shared by the runtime and the magics: the user's namespace and the frame in focus."""
from __future__ import annotations

import sys
import types

#: The namespace user cells run in (the `__main__` module's dict, like IPython).
main_module: types.ModuleType = sys.modules.get("__main__") or types.ModuleType("__main__")
user_ns: dict = main_module.__dict__

#: Name of the DataFrame most recently loaded or used; `%viz`/`%profile` default to it.
current_frame: str | None = None


def set_current_frame(name: str | None) -> None:
    global current_frame
    current_frame = name


def frames() -> dict:
    """name -> DataFrame for every public pandas DataFrame in the user's namespace, in the order
    the names were bound. The one answer to "which frames are in this session" (%viz, %frames,
    the health report); pandas is not imported for it (no pandas loaded: no frames)."""
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return {}
    return {name: value for name, value in list(user_ns.items())
            if not name.startswith("_") and isinstance(value, pandas.DataFrame)}
