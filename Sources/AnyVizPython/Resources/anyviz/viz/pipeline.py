"""`%viz` and `%customize`: the fallback ladder, in one place, for both kernels.

    context -> cache -> LLM -> guard and render -> repair (<= 2) -> planner chart
            -> simpler chart -> table -> message

Every step is an in-process call into `anyviz.viz.api` (Python values in and out); the only
native calls are the LLM's (`anyviz.llm`, one crossing each). A `Pipeline` run owns the
request's state from start to end (`_Run`): the frame, the notes the user must read, the LLM
calls made. It ends in a `VizOutcome` (something was shown) or one `VizError` whose message
reaches the user once; a request the planner could not read (`NotUnderstood`) ends the ladder
with its message, since a guessed chart would mislead.

Operator counters go to `anyviz.metrics` (handed to the native side with the cell's reply).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .. import llm as _llm
from .. import llm_http, metrics, safety
from ..errors import AnyVizError, LLMError, NotUnderstood, VizError
from . import api

#: Repairs after a failed answer: at most three LLM calls per chart.
MAX_REPAIRS = 2

#: How a note ends when the planner took over; joined notes drop it from the earlier one.
_PLANNER_MADE_IT = "; the built-in planner made this chart."

_HINTS = ("type", "x", "y", "color", "agg")


@dataclass(frozen=True)
class VizRequest:
    """What the user asked `%viz` for."""

    frame: str | None = None
    text: str = ""
    #: Fixed choices (`--type`, `--x`, `--y`, `--color`, `--agg`), empty values left out.
    hints: dict = field(default_factory=dict)
    use_cache: bool = True
    #: Also attach a PNG (for places that show no interactive charts).
    static: bool = False

    @classmethod
    def of(cls, frame=None, text="", use_cache=True, static=False, **hints) -> "VizRequest":
        """A request from magic options: unknown hint names are refused, empty ones dropped."""
        unknown = set(hints) - set(_HINTS)
        if unknown:
            raise TypeError(f"unknown %viz hints: {', '.join(sorted(unknown))}")
        return cls(frame=frame or None, text=text or "",
                   hints={k: v for k, v in hints.items() if v}, use_cache=use_cache,
                   static=static)


@dataclass(frozen=True)
class VizOutcome:
    """How a `%viz` or `%customize` ended: which rung produced what the user sees."""

    #: cache, llm, planner, simple or table.
    level: str
    code: str | None
    display_id: str | None
    explanation: str
    llm_calls: int


@dataclass
class _Run:
    """One request's state from start to end."""

    request: VizRequest
    frame: str = "df"
    note: str | None = None
    llm_calls: int = 0
    #: Whether the ladder's end counts in `anyviz_viz_results_total` (%viz, not %customize).
    counted: bool = True

    def add_note(self, later: str) -> None:
        """Keep every reason the user should read: an earlier failure is not hidden by a
        later one."""
        if not self.note:
            self.note = later
        else:
            self.note = self.note.replace(_PLANNER_MADE_IT, ".") + " " + later


class Pipeline:
    """The ladder with its LLM service and settings (injected in tests)."""

    def __init__(self, service: _llm.LLMService | None = None, settings=None):
        self._service = service
        self._settings = settings

    @property
    def config(self) -> llm_http.LLMConfig:
        return self._settings() if self._settings else _llm.settings()

    @property
    def service(self) -> _llm.LLMService:
        if self._service is None:
            self._service = _llm.service()
        return self._service

    # ------------------------------------------------------------------ %viz
    def viz(self, request: VizRequest) -> VizOutcome:
        metrics.count(metrics.REQUESTS)
        run = _Run(request)
        config = self.config
        if config.provider == "offline":
            # The planner reads the frame itself: no prompt summary to compute.
            run.frame = api.context({"frame": request.frame, "light": True}).get("frame") or "df"
            return self._fallback(run)
        identity = api.identity({"frame": request.frame})
        run.frame = identity.get("frame") or "df"
        if identity.get("engine"):
            return self._engine_chart(run)
        key = cache_key(config, request, identity)
        if request.use_cache:
            outcome = self._cached(run, key)
            if outcome is not None:
                return outcome
        # Only a miss pays for the prompt's data summary (statistics of every column).
        summary = api.context({"frame": run.frame}).get("summary") or ""
        outcome = self._llm_chart(run, key, summary)
        return outcome if outcome is not None else self._fallback(run)

    def _cached(self, run: _Run, key: str) -> VizOutcome | None:
        """A cached LLM answer for this exact request, schema and data, shown again."""
        try:
            cached = api.cache_get({"key": key})
            reply = llm_http.parse_chart_reply(cached["value"]) if cached.get("hit") else None
        except (LLMError, KeyError, TypeError):
            reply = None
        if reply is None:
            metrics.count(metrics.CACHE_MISSES)
            return None
        metrics.count(metrics.CACHE_HITS)
        shown = self._render(run, reply, note=None, key=key)
        if shown.get("status") != "ok":
            return None
        return self._done(run, "cache", reply.code, shown, reply.explanation, calls=0)

    def _llm_chart(self, run: _Run, key: str, summary: str) -> VizOutcome | None:
        """Ask the LLM, run its code under the guard, and send a failure back for a repair;
        without a chart, `run.note` says why for the fallback."""
        messages = llm_http.chart_messages(summary, run.request.text, run.request.hints)
        last_error = ""
        for attempt in range(MAX_REPAIRS + 1):
            answer = self._ask(run, messages)
            if answer is None:
                return None
            try:
                reply = llm_http.parse_chart_reply(answer)
            except LLMError as exc:
                last_error = str(exc)
                messages = llm_http.repair_messages(messages, answer, last_error)
                run.note = (f"The LLM's reply was unusable {attempt + 1} time(s) ({last_error})"
                            + _PLANNER_MADE_IT)
                continue
            repaired = (f"Repaired after {attempt} failed attempt(s): {last_error}"
                        if attempt else None)
            shown = self._render(run, reply, note=repaired, key=key)
            if shown.get("status") == "ok":
                api.cache_put({"key": key, "value": reply.to_json()})
                return self._done(run, "llm", reply.code, shown, reply.explanation)
            last_error = shown.get("message") or "unknown error"
            metrics.count(metrics.ERRORS, type=f"code_{shown.get('status') or 'error'}")
            if shown.get("status") == "unsandboxed":
                # No repair helps when the machine lacks the sandbox: stop asking.
                run.note = f"{last_error} The built-in planner made this chart."
                return None
            messages = llm_http.repair_messages(messages, answer, _repair_text(shown))
            run.note = (f"The LLM's code failed {attempt + 1} time(s) (last error: "
                        f"{last_error})" + _PLANNER_MADE_IT)
        return None

    def _ask(self, run: _Run, messages: list[dict]) -> str | None:
        """One LLM call; on failure the note says why and None is returned."""
        try:
            answer = self.service.complete(messages, self.config)
        except LLMError as exc:
            metrics.count(metrics.ERRORS, type=f"llm_{exc.kind}")
            run.note = f"The LLM could not be used ({exc})" + _PLANNER_MADE_IT
            return None
        run.llm_calls += 1
        return answer

    def _render(self, run: _Run, reply: llm_http.ChartReply, note: str | None,
                key: str | None = None) -> dict:
        """Run the LLM's code in the sandbox and show the chart; `key` (the cache key) lets a
        repeated answer on the same data reuse the figure drawn before (`figure_memo`)."""
        return api.render({"frame": run.frame, "code": reply.code, "source": "llm",
                           "explanation": reply.explanation, "alternatives": reply.alternatives,
                           "note": note, "request": run.request.text,
                           "static": run.request.static, "memo_key": key})

    def _engine_chart(self, run: _Run) -> VizOutcome:
        """A table in DuckDB or Spark: LLM pandas code cannot run there. The engine layer's
        `chart_from_llm` (when present) asks the LLM for a chart specification; else the
        planner's spec runs in the engine."""
        from ..engines import viz as engine_viz

        chart_from_llm = getattr(engine_viz, "chart_from_llm", None)
        if chart_from_llm is None:
            run.note = api.context({"frame": run.frame}).get("engine_note")
            return self._fallback(run)

        def complete(messages: list[dict]) -> str:
            answer = self._ask(run, messages)
            if answer is None:
                raise LLMError(run.note or "the LLM could not be used")
            return answer

        config = self.config
        # The same chart cache as pandas answers: keyed on the table, request and model.
        cache = {"provider": config.provider, "model": config.model,
                 "read": run.request.use_cache}
        try:
            shown = chart_from_llm(run.frame, run.request.text, dict(run.request.hints),
                                   complete, render=api.render, cache=cache)
        except Exception as exc:  # noqa: BLE001 - the planner still charts the table
            if not isinstance(exc, LLMError):
                run.note = f"The LLM's chart could not be drawn ({exc})" + _PLANNER_MADE_IT
            return self._fallback(run)
        if not isinstance(shown, dict) or shown.get("status") != "ok":
            message = shown.get("message") if isinstance(shown, dict) else None
            run.add_note(f"The LLM's chart could not be drawn ({message or 'error'})"
                         + _PLANNER_MADE_IT)
            return self._fallback(run)
        return self._done(run, "cache" if shown.get("cached") else "llm", shown.get("code"),
                          shown, shown.get("explanation") or "")

    # ------------------------------------------------------------------ fallbacks
    def _fallback(self, run: _Run) -> VizOutcome:
        """Planner chart -> simpler chart -> table -> message: %viz always shows something."""
        request = run.request
        try:
            plan = api.plan({"frame": run.frame, "request": request.text,
                             "options": dict(request.hints)})
            shown = api.render({"frame": run.frame, "code": plan.get("code") or "",
                                "source": "planner", "explanation": plan.get("explanation"),
                                "alternatives": plan.get("alternatives") or [],
                                "note": run.note, "request": request.text,
                                "static": request.static})
            if shown.get("status") == "ok":
                return self._done(run, "planner", plan.get("code"), shown,
                                  plan.get("explanation") or "", plain=False)
            run.add_note(f"The planned chart failed ({shown.get('message') or 'error'}); "
                         "showing a simpler chart.")
        except NotUnderstood as exc:
            # The message (words, close columns, requests that work) is the answer.
            metrics.count(metrics.RESULTS, level="message")
            run.add_note(str(exc))
            raise NotUnderstood(run.note) from None
        except AnyVizError as exc:
            run.add_note(f"{exc} Showing a simpler view of the data instead.")
        for level, rung in (("simple", api.simple), ("table", api.table)):
            try:
                shown = rung({"frame": run.frame, "columns": None, "note": run.note})
            except Exception:  # noqa: BLE001 - the next rung still shows something
                continue
            if shown.get("status") == "ok":
                return self._done(run, level, None, shown, run.note or "", plain=False)
        metrics.count(metrics.RESULTS, level="message")
        raise VizError(run.note or f"No chart or table could be made from {run.frame}.")

    def _done(self, run: _Run, level: str, code, shown: dict, explanation: str,
              calls: int | None = None, plain: bool = True) -> VizOutcome:
        if run.counted:
            metrics.count(metrics.RESULTS, level=level)
        return VizOutcome(level=level, code=code, display_id=shown.get("display_id"),
                          explanation=safety.plain(explanation) if plain else explanation,
                          llm_calls=run.llm_calls if calls is None else calls)

    # ------------------------------------------------------------------ %customize
    def customize(self, instruction: str) -> VizOutcome:
        """Change the last chart: the LLM rewrites its code when one is configured (with up
        to two repairs), else or on failure the offline rules apply the change."""
        metrics.count(metrics.REQUESTS)
        last = api.last_chart()
        if not last.get("code") or not last.get("frame"):
            raise VizError("There is no chart to customize yet: make one with %viz first.")
        run = _Run(VizRequest(frame=last["frame"], text=instruction), frame=last["frame"],
                   counted=False)
        # Options (--list, --undo, --df) address the kept chart history, which lives offline.
        if self.config.provider != "offline" and not instruction.startswith("--"):
            outcome = self._llm_customize(run, last["code"], instruction)
            if outcome is not None:
                return outcome
            if run.note:
                run.note = run.note.replace(_PLANNER_MADE_IT, "; applied the change offline.")
        shown = api.customize({"instruction": instruction, "note": run.note})
        if shown.get("status") == "ok":
            return self._done(run, "planner", shown.get("code"), shown,
                              shown.get("message") or "", plain=False)
        raise VizError(shown.get("message") or "The chart could not be changed.")

    def _llm_customize(self, run: _Run, code: str, instruction: str) -> VizOutcome | None:
        summary = api.context({"frame": run.frame}).get("summary") or ""
        messages = llm_http.customize_messages(summary, code, instruction)
        for _ in range(MAX_REPAIRS + 1):
            answer = self._ask(run, messages)
            if answer is None:
                return None
            try:
                reply = llm_http.parse_chart_reply(answer)
            except LLMError:
                messages = llm_http.repair_messages(messages, answer, "the reply had no code")
                continue
            shown = api.apply_custom_code({"code": reply.code, "instruction": instruction})
            if shown.get("status") == "ok":
                return self._done(run, "llm", reply.code, shown, reply.explanation)
            messages = llm_http.repair_messages(messages, answer, _repair_text(shown))
        return None


def _repair_text(shown: dict) -> str:
    """What the LLM is told about a failed render: the masked error (exception type, short
    message, no data values), never the message shown to the user."""
    return shown.get("repair_error") or f"the chart code failed ({shown.get('status') or 'error'})"


def cache_key(config: llm_http.LLMConfig, request: VizRequest, identity: dict) -> str:
    """Provider, model, prompt version, request, schema and data fingerprint (`api.identity`):
    a changed file or prompt never reuses an old answer."""
    parts = {"provider": config.provider, "model": config.model,
             "prompt": llm_http.PROMPT_VERSION, "request": request.text,
             "hints": dict(request.hints), "columns": identity.get("columns"),
             "fingerprint": identity.get("fingerprint")}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


#: The pipeline the magics use (the LLM service is chosen on first use).
default = Pipeline()


def viz(request: VizRequest) -> VizOutcome:
    return default.viz(request)


def customize(instruction: str) -> VizOutcome:
    return default.customize(instruction)


def last_chart_script() -> str | None:
    """The last chart (with its customizations) as a cell that runs on its own."""
    return api.last_chart().get("script")
