"""The last chart of every frame, and `%customize` on it.

A chart is kept as its ORIGINAL code and figure plus the list of changes made to it; every
`%customize` re-renders original + all changes (anyviz.viz.customize_apply), so changes compose
in any order, a not-understood instruction changes nothing, and `--undo` is simply "drop the
last step and render again". An LLM edit (full replacement code) becomes a step too: it
replaces the original code, and undoing it restores the previous one.

Where the result shows: the chart is updated in place (update_display_data on its display id),
and the %customize cell itself shows a one-line confirmation naming the chart, followed by the
chart under the same display id. The kernel cannot know whether a front end still tracks the
original output (a page reload, a second tab, a notebook reopened later or VS Code
reconnecting all silently drop that tracking), and the cell the user just ran is where they
look; sharing the display id keeps every copy identical, so no stale version is left behind.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import iopub, safety
from . import customize as _customize
from . import customize_apply as _apply

#: The last chart of each frame, and the frame of the chart shown or changed last.
_by_frame: dict = {}
_current: list = [None]


@dataclass
class Step:
    """One %customize: its changes (offline) or its replacement code (LLM), and the state
    before it, so --undo can go back exactly."""
    instruction: str
    changes: list = field(default_factory=list)
    code: str | None = None  # LLM edit: the full new chart code
    before: tuple = ()       # (base_code, base_figure) before an LLM edit

    def description(self) -> str:
        if self.code is not None:
            return f"code rewritten by the LLM for {safety.name(self.instruction, 200)}"
        return "; ".join(c.description for c in self.changes)


@dataclass
class Chart:
    frame: str
    base_code: str
    base_figure: dict
    display_id: str | None
    request: str | None = None
    columns: list = field(default_factory=list)
    static: bool = False
    steps: list = field(default_factory=list)

    @property
    def changes(self) -> list:
        """The offline changes since the last LLM edit (those re-apply to base_code)."""
        out = []
        for step in self.steps:
            out = [] if step.code is not None else out + step.changes
        return out

    def view(self):
        return _apply.fold(self.changes, _apply.base_view(self.base_figure, self.columns))[1]

    def code(self) -> str:
        return _apply.chart_code(self.base_code, self.base_figure, self.changes, self.columns)


def remember(frame: str, code: str, figure: dict, display_id: str | None, *, request=None,
             columns=(), static=False) -> Chart:
    """A new chart of `frame` (from %viz): it becomes the frame's last chart and the current one."""
    chart = Chart(frame=frame, base_code=code, base_figure=figure or {}, display_id=display_id,
                  request=request, columns=list(columns or ()), static=bool(static))
    _by_frame[frame] = chart
    _current[0] = frame
    return chart


def current(frame: str | None = None) -> Chart | None:
    return _by_frame.get(frame or _current[0] or "")


def forget(frame: str) -> None:
    """The frame was dropped: its chart goes too."""
    _by_frame.pop(frame, None)
    if _current[0] == frame:
        _current[0] = None


def record_llm_edit(frame: str, instruction: str, code: str, figure: dict,
                    frame_rows: int = 0) -> None:
    """An LLM rewrote the chart's code (already shown in place): it is the new original and
    one step to undo; the cell gets the same confirmation and chart as an offline change."""
    chart = _by_frame.get(frame)
    if chart is None:
        return
    step = Step(instruction or "", code=code, before=(chart.base_code, chart.base_figure))
    chart.steps.append(step)
    chart.base_code, chart.base_figure = code, figure or {}
    _current[0] = frame
    _say(f"Changed the chart “{_title(chart, figure)}” ({chart.frame}): {step.description()}.")
    _show_here(chart, figure, frame_rows)


# ------------------------------------------------------------------ %customize
_FRAME_OPT = re.compile(r"^\s*--df[\s=]+(\S+)\s*")


def _title(chart: Chart, figure: dict | None) -> str:
    layout = (figure or chart.base_figure or {}).get("layout") or {}
    title = layout.get("title")
    text = title.get("text") if isinstance(title, dict) else title
    text = re.sub(r"<[^>]*>", " ", str(text or chart.request or "untitled")).strip()
    return text if len(text) <= 80 else text[:77] + "…"


def _say(text: str) -> None:
    """One line (or a short list) in the %customize cell itself; titles and instructions are
    untrusted text."""
    iopub.display_data({"text/plain": safety.plain(text)}, {})


def _reply(status: str, message: str, chart: Chart | None = None, code=None, **extra) -> dict:
    return {"status": status, "message": message, "code": code,
            "display_id": chart.display_id if chart else None, **extra}


def customize(args: dict, *, run, resolve) -> dict:
    """`%customize [--df NAME] INSTRUCTION | --list | --undo` on the last chart.

    `run(name, df, code, **show)` renders through the guard and shows the chart (api's
    _run_and_show); `resolve(name)` finds the frame."""
    text = (args.get("instruction") or "").strip()
    m = _FRAME_OPT.match(text)
    frame = m.group(1) if m else None
    text = text[m.end():] if m else text
    chart = current(frame)
    if chart is None:
        where = f" of {frame!r}" if frame else ""
        return _reply("no_chart", f"There is no chart{where} to customize yet: make one with "
                                  f"%viz first.")
    word = text.split()[0].lower() if text.split() else ""
    if word in ("--list", "list"):
        return list_steps(chart)
    if word in ("--undo", "undo"):
        return undo(chart, run=run, resolve=resolve, note=args.get("note"))
    if word.startswith("--"):
        return _reply("unknown", f"%customize has no option {safety.name(word)}: use --list, --undo or "
                                 f"--df NAME, or say what to change.", chart)
    view = chart.view()
    parsed = _customize.parse(text, view, _apply.advance)
    if not parsed.ok:
        msg = parsed.message() or f"Nothing changed: {safety.name(text, 500)} names no change."
        return _reply("unknown", f"{msg} {_customize.OFFLINE_HELP}", chart)
    for change in parsed.changes:
        problem = _apply.problems(view, change)
        if problem:
            return _reply("unknown", f"Nothing changed: {problem}.", chart)
        view = _apply.advance(view, change)
    step = Step(text, changes=parsed.changes)
    chart.steps.append(step)
    outcome = _render(chart, run=run, resolve=resolve, note=args.get("note"),
                      what=step.description())
    if outcome["status"] != "ok":
        chart.steps.pop()
        outcome["message"] = (f"Could not apply {safety.name(text, 500)}; nothing changed. "
                              f"{outcome['message']}")
    return outcome


def _render(chart: Chart, *, run, resolve, note, what: str) -> dict:
    """Render original + changes, update the chart in place, confirm in this cell."""
    try:
        code = chart.code()
    except _apply.NotApplicable as exc:
        return _reply("error", str(exc).capitalize() + ".", chart)
    name, df = resolve(chart.frame)
    done = [s.description() for s in chart.steps]
    explanation = ("Customized: " + "; ".join(done) + ".") if done else None
    reply, result = run(name, df, code, explanation=explanation, note=note,
                        display_id=chart.display_id, update=bool(chart.display_id),
                        static=chart.static)
    if reply["status"] != "ok":
        return _reply(reply["status"], reply.get("message") or "the chart code failed", chart,
                      code=code)
    chart.display_id = reply.get("display_id") or chart.display_id
    _current[0] = chart.frame
    figure = result.figure if result is not None else None
    _say(f"Changed the chart “{_title(chart, figure)}” ({chart.frame}): {what}.")
    _show_here(chart, figure, len(df))
    return _reply("ok", what, chart, code=code, figure=figure)


def _show_here(chart: Chart, figure: dict | None, rows: int) -> None:
    """The updated chart in the cell that asked for it, under the chart's display id."""
    if not figure:
        return
    from . import output
    output.show_figure(figure, display_id=chart.display_id, update=False, frame_rows=rows,
                       static=chart.static)


def list_steps(chart: Chart) -> dict:
    """`%customize --list`: the steps applied to the chart, oldest first."""
    title = _title(chart, None)
    if not chart.steps:
        text = f"No changes to the chart “{title}” ({chart.frame}) yet."
    else:
        lines = [f"Changes to the chart “{title}” ({chart.frame}), oldest first:"]
        lines += [f"  {i}. {s.description()}   ← {safety.name(s.instruction, 200)}"
                  for i, s in enumerate(chart.steps, 1)]
        text = "\n".join(lines)
    _say(text)
    return _reply("ok", text, chart, steps=[{"instruction": s.instruction,
                                              "description": s.description()}
                                             for s in chart.steps])


def undo(chart: Chart, *, run, resolve, note=None) -> dict:
    """`%customize --undo`: drop the last step and show the chart without it."""
    if not chart.steps:
        return _reply("unknown", f"Nothing to undo: the chart “{_title(chart, None)}” has no "
                                 f"changes.", chart)
    step = chart.steps.pop()
    after = (chart.base_code, chart.base_figure)
    if step.code is not None:
        chart.base_code, chart.base_figure = step.before
    outcome = _render(chart, run=run, resolve=resolve, note=note,
                      what=f"undid {step.description()}")
    if outcome["status"] != "ok":  # put it back: the chart on screen still has it
        chart.base_code, chart.base_figure = after
        chart.steps.append(step)
    return outcome
