"""Help text of Python-implemented magics (their docstrings), for `%name?`."""
import importlib
import inspect
import json


def doc(request_json: str) -> str:
    request = json.loads(request_json)
    try:
        function = getattr(importlib.import_module(request["module"]), request["function"])
    except Exception:
        return json.dumps("")
    return json.dumps(inspect.getdoc(function) or "")
