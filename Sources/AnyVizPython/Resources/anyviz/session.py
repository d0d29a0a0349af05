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
