"""`%load_ext anyviz`: AnyViz's magics in any IPython kernel (ipykernel in JupyterLab, VS Code,
Colab).

In the AnyViz kernel the magics reach the native side through the `_anyviz` builtin module:
outputs are published by Swift, and the chart pipeline and the LLM client (libcurl) run there.
In a plain IPython kernel there is no `_anyviz`, so this module supplies the same three calls
in Python (`PythonBridge`):

- `emit`: outputs go through IPython's own display publisher and streams, so the kernel
  (ipykernel or another) publishes them under the running cell;
- `input`: Python's `input()` / `getpass`, which the kernel wires to the front end;
- `call`: the services of Sources/AnyVizServices/KernelServices.swift (`viz`, `customize`,
  `last_chart_script`, `llm`, `llm_status`, `fetch`), with the chart pipeline of
  Sources/AnyVizViz/VizPipeline.swift re-told in Python (`ChartPipeline`) and the LLM reached
  with urllib (`anyviz.llm_http`).

The magics themselves (`anyviz.magics.AnyVizMagics`) are the same objects in both kernels.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys

from . import download, jsonutil, llm_http

#: Set by `load_ipython_extension` when it supplied the Python bridge (not in the AnyViz kernel).
_python_bridge = None


def load_ipython_extension(shell) -> None:
    """Called by `%load_ext anyviz`: register the magics, and where AnyViz's native side is
    absent, the Python bridge they publish and call through."""
    global _python_bridge
    from . import iopub, session

    if not _native_bridge_present():
        _python_bridge = PythonBridge()
        iopub._anyviz = _python_bridge
    # The magics find the user's DataFrames in the shell's namespace.
    session.main_module = shell.user_module
    session.user_ns = shell.user_ns
    from . import errors, magics

    magics.install(shell)
    if not shell.custom_exceptions:
        shell.set_custom_exc((errors.AnyVizError,), _show_anyviz_error)
    if "google.colab" in sys.modules:
        shell.events.register("pre_run_cell", _plotlyjs_in_every_cell)


def _plotlyjs_in_every_cell(info=None) -> None:
    """Colab shows each cell's outputs in its own frame, so plotly.js sent with an earlier
    cell's chart is not there for this one: every cell's first chart carries it again."""
    from .viz import output

    output.reset_session()


def unload_ipython_extension(shell) -> None:
    """`%unload_ext anyviz`: the magics stay registered (IPython has no unregister), but AnyViz
    errors are shown with tracebacks again."""
    from . import errors

    if shell.custom_exceptions == (errors.AnyVizError,):
        shell.set_custom_exc((), None)


def _native_bridge_present() -> bool:
    try:
        import _anyviz  # noqa: F401 - provided by the AnyViz kernel only
    except ImportError:
        return False
    return not isinstance(_anyviz, PythonBridge)


def _show_anyviz_error(shell, etype, value, tb, tb_offset=None):
    """AnyViz's errors say what to do: shown as their message, without Python internals."""
    try:
        lines = str(value).split("\n")
    except Exception:
        lines = [f"<unprintable {etype.__name__}>"]
    stb = [f"{etype.__name__}: {lines[0]}"] + lines[1:]
    shell._showtraceback(etype, value, stb)
    return stb


# ------------------------------------------------------------------------------- the bridge
class PythonBridge:
    """`_anyviz` in Python: publishing through IPython, services answered in this process."""

    def __init__(self, services=None):
        self.services = services or Services()

    def emit(self, msg_type: str, content_json: str, token: int | None = None) -> None:
        content = jsonutil.loads(content_json)
        if msg_type == "stream":
            stream = sys.stderr if content.get("name") == "stderr" else sys.stdout
            stream.write(content.get("text", ""))
            stream.flush()
        elif msg_type in ("display_data", "update_display_data", "execute_result"):
            from IPython.display import publish_display_data

            transient = content.get("transient") or None
            kwargs = {"update": True} if msg_type == "update_display_data" else {}
            publish_display_data(content.get("data") or {}, content.get("metadata") or {},
                                 transient=transient, **kwargs)
        elif msg_type == "clear_output":
            from IPython.display import clear_output

            clear_output(wait=bool(content.get("wait")))
        # comm messages: the host kernel's comm manager owns comms; AnyViz sends none here.

    def input(self, prompt: str, password: bool) -> str:
        if password:
            import getpass

            return getpass.getpass(prompt)
        return input(prompt)

    def call(self, service: str, payload_json: str) -> str:
        return jsonutil.dumps(self.services.call(service, jsonutil.loads(payload_json or "{}")))


# ------------------------------------------------------------------------------- services
class Services:
    """The kernel services of KernelServices.swift, in Python."""

    def __init__(self, config: llm_http.LLMConfig | None = None):
        self.config = config or llm_http.LLMConfig.from_environment()
        self.pipeline = ChartPipeline(self)

    def call(self, service: str, payload: dict) -> dict:
        handler = getattr(self, f"service_{service}", None)
        if handler is None:
            raise RuntimeError(f"unknown kernel service {service}")
        return handler(payload or {})

    def service_viz(self, p: dict) -> dict:
        def text(key):
            value = p.get(key)
            return value if isinstance(value, str) and value else None

        return self.pipeline.viz(frame=text("frame"), text=p.get("text") or "",
                                 hints={k: text(k) for k in ("type", "x", "y", "color", "agg")
                                        if text(k)},
                                 use_cache=p.get("use_cache", True) is not False,
                                 static=bool(p.get("static")))

    def service_customize(self, p: dict) -> dict:
        from .errors import MagicError

        instruction = (p.get("instruction") or "").strip()
        if not instruction:
            raise MagicError("Say what to change, e.g. %customize title 'Sales 2024' or "
                             "%customize dark theme.")
        return self.pipeline.customize(instruction)

    def service_last_chart_script(self, p: dict) -> dict:
        from .viz import api

        return {"script": _api(api.last_chart, {}).get("script")}

    def service_llm(self, p: dict) -> dict:
        from .errors import MagicError

        api_key = None
        if p.get("key_env"):
            api_key = os.environ.get(p["key_env"])
            if not api_key:
                raise MagicError(f"The environment variable {p['key_env']} is not set in the "
                                 "kernel's environment. Set it before starting Jupyter.")
        try:
            self.config = self.config.updated(provider=p.get("provider"), model=p.get("model"),
                                              base_url=p.get("base_url"), api_key=api_key,
                                              timeout=p.get("timeout"))
        except ValueError as exc:
            raise MagicError(str(exc)) from None
        return {"summary": self.config.summary}

    def service_llm_status(self, p: dict) -> dict:
        return {"text": llm_http.reachability(self.config)}

    def service_fetch(self, p: dict) -> dict:
        """`%load https://...`: download to a file under the same policy as the native client."""
        url, path = p.get("url"), p.get("path")
        if not url or not path:
            return {"status": "error", "message": "fetch needs url and path"}
        return download.fetch(url, path, float(p.get("timeout_s") or 120))


def _api(function, argument: dict) -> dict:
    value = jsonutil.loads(function(argument))
    return value if isinstance(value, dict) else {}


class ChartPipeline:
    """`%viz` and `%customize`: context → cache → LLM → guard and render → repair (≤ 2)
    → planner chart → simpler chart → table → message, as VizPipeline.swift does. Each step is
    a function of `anyviz.viz.api`; this class only decides what to try next."""

    MAX_REPAIRS = 2

    def __init__(self, services: Services):
        self.services = services

    @property
    def config(self) -> llm_http.LLMConfig:
        return self.services.config

    def viz(self, frame, text, hints, use_cache=True, static=False) -> dict:
        from .viz import api

        if self.config.provider == "offline":
            name = _api(api.context, {"frame": frame, "light": True}).get("frame") or "df"
            return self._fallback(name, text, hints, static, note=None, calls=0)
        context = _api(api.context, {"frame": frame})
        name = context.get("frame") or "df"
        key = self._cache_key(text, hints, context)
        if use_cache:
            shown = self._cached(key, name, text, static)
            if shown is not None:
                return shown
        outcome, note, calls = self._llm_chart(key, name, text, hints, static,
                                               context.get("summary") or "")
        if outcome is not None:
            return outcome
        return self._fallback(name, text, hints, static, note=note, calls=calls)

    def _cache_key(self, text, hints, context) -> str:
        parts = {"provider": self.config.provider, "model": self.config.model,
                 "prompt": llm_http.PROMPT_VERSION, "request": text, "hints": hints,
                 "columns": context.get("columns"), "fingerprint": context.get("fingerprint"),
                 "client": "python"}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def _cached(self, key, name, text, static):
        from .viz import api

        cached = _api(api.cache_get, {"key": key})
        if not cached.get("hit") or not isinstance(cached.get("value"), str):
            return None
        try:
            reply = llm_http.parse_chart_reply(cached["value"])
        except llm_http.LLMError:
            return None
        shown = self._render(name, reply, text, static, note=None)
        if shown.get("status") != "ok":
            return None
        return _outcome("cache", reply.code, shown, reply.explanation, 0)

    def _render(self, name, reply, text, static, note):
        from .viz import api

        return _api(api.render, {"frame": name, "code": reply.code, "source": "llm",
                                 "explanation": reply.explanation,
                                 "alternatives": reply.alternatives, "note": note,
                                 "request": text, "static": static})

    def _llm_chart(self, key, name, text, hints, static, summary):
        from .viz import api

        messages = llm_http.chart_messages(summary, text, hints)
        note, last_error, calls = None, "", 0
        for attempt in range(self.MAX_REPAIRS + 1):
            try:
                answer = llm_http.complete(self.config, messages)
                calls += 1
            except llm_http.LLMError as exc:
                return None, (f"The LLM could not be used ({exc}); the built-in planner made "
                              "this chart."), calls
            try:
                reply = llm_http.parse_chart_reply(answer)
            except llm_http.LLMError as exc:
                last_error = str(exc)
                messages = llm_http.repair_messages(messages, answer, last_error)
                note = (f"The LLM's reply was unusable {attempt + 1} time(s) ({last_error}); "
                        "the built-in planner made this chart.")
                continue
            repaired = (f"Repaired after {attempt} failed attempt(s): {last_error}"
                        if attempt else None)
            shown = self._render(name, reply, text, static, note=repaired)
            if shown.get("status") == "ok":
                _api(api.cache_put, {"key": key, "value": reply.to_json()})
                return _outcome("llm", reply.code, shown, reply.explanation, calls), None, calls
            last_error = shown.get("message") or "unknown error"
            repair = shown.get("repair_error") or f"the chart code failed ({shown.get('status')})"
            messages = llm_http.repair_messages(messages, answer, repair)
            note = (f"The LLM's code failed {attempt + 1} time(s) (last error: {last_error}); "
                    "the built-in planner made this chart.")
        return None, note, calls

    def _fallback(self, name, text, hints, static, note, calls) -> dict:
        """Planner chart → simpler chart → table → message: %viz always shows something."""
        from .errors import AnyVizError, MagicError, NotUnderstood
        from .viz import api

        try:
            plan = _api(api.plan, {"frame": name, "request": text, "options": hints})
            shown = _api(api.render, {
                "frame": name, "code": plan.get("code") or "", "source": "planner",
                "explanation": plan.get("explanation"),
                "alternatives": plan.get("alternatives") or [], "note": note, "request": text,
                "static": static})
            if shown.get("status") == "ok":
                return _outcome("planner", plan.get("code"), shown,
                                plan.get("explanation") or "", calls)
            note = _joined(note, f"The planned chart failed ({shown.get('message') or 'error'}); "
                                 "showing a simpler chart.")
        except NotUnderstood as exc:  # a guessed chart would mislead: the message answers
            raise MagicError(_joined(note, str(exc))) from None
        except AnyVizError as exc:
            note = _joined(note, f"{exc} Showing a simpler view of the data instead.")
        for level, function in (("simple", api.simple), ("table", api.table)):
            try:
                shown = _api(function, {"frame": name, "columns": None, "note": note})
            except AnyVizError:
                continue
            if shown.get("status") == "ok":
                return _outcome(level, None, shown, note or "", calls)
        raise MagicError(note or f"No chart or table could be made from {name}.")

    def customize(self, instruction: str) -> dict:
        from .errors import MagicError
        from .viz import api

        last = _api(api.last_chart, {})
        if not last.get("code") or not last.get("frame"):
            raise MagicError("There is no chart to customize yet: make one with %viz first.")
        note = None
        if self.config.provider != "offline":
            summary = _api(api.context, {"frame": last["frame"]}).get("summary") or ""
            messages = llm_http.customize_messages(summary, last["code"], instruction)
            for _ in range(self.MAX_REPAIRS + 1):
                try:
                    answer = llm_http.complete(self.config, messages)
                except llm_http.LLMError as exc:
                    note = f"The LLM could not be used ({exc}); applied the change offline."
                    break
                try:
                    reply = llm_http.parse_chart_reply(answer)
                except llm_http.LLMError:
                    messages = llm_http.repair_messages(messages, answer, "the reply had no code")
                    continue
                shown = _api(api.apply_custom_code, {"code": reply.code,
                                                     "instruction": instruction})
                if shown.get("status") == "ok":
                    return _outcome("llm", reply.code, shown, reply.explanation, 1)
                messages = llm_http.repair_messages(
                    messages, answer, shown.get("repair_error") or "the chart code failed")
        shown = _api(api.customize, {"instruction": instruction, "note": note})
        if shown.get("status") == "ok":
            return _outcome("planner", shown.get("code"), shown, shown.get("message") or "", 0)
        raise MagicError(shown.get("message") or "The chart could not be changed.")


def _outcome(level, code, shown, explanation, calls) -> dict:
    return {"level": level, "code": code, "display_id": shown.get("display_id"),
            "explanation": explanation or "", "llm_calls": calls}


def _joined(earlier, later):
    """Keep every reason the user should read: an earlier LLM failure is not hidden."""
    if not earlier:
        return later
    return earlier.replace("; the built-in planner made this chart.", ".") + " " + later
