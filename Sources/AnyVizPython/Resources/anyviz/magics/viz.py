"""`%viz`, `%customize`, `%llm`, `%cache`, `%health`: options parsed here and handed to the
chart pipeline (`anyviz.viz.pipeline`) and the LLM settings (`anyviz.llm`), in-process. Only an
LLM call leaves Python (`anyviz.llm`: one native call each in the AnyViz kernel).

Every function takes the text after the magic's name; its docstring is the `%name?` help.
"""
from __future__ import annotations

import argparse

from .. import iopub
from ..errors import UsageError
from ..words import split_words


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (with the usage and where to read more) instead of
    printing and exiting the process."""

    def __init__(self, prog: str, **kwargs):
        super().__init__(prog=f"%{prog}", add_help=False, allow_abbrev=False, **kwargs)
        self.magic = prog

    def error(self, message):
        raise UsageError(f"%{self.magic}: {message}\n{self.format_usage().strip()}\n"
                         f"Run %{self.magic}? for help.")

    def exit(self, status=0, message=None):  # pragma: no cover - add_help=False never exits
        raise UsageError(message or self.format_usage())


def _viz_parser() -> _Parser:
    p = _Parser("viz", usage="%%viz [options] REQUEST ...")
    p.add_argument("--df", help="the DataFrame to chart (default: the one most recently "
                                "loaded or used)")
    p.add_argument("--type", help="chart type: bar, line, scatter, pie, histogram, box, violin, "
                                  "area, heatmap")
    p.add_argument("--x", help="column for the x axis")
    p.add_argument("--y", help="column for the y axis")
    p.add_argument("--color", help="column for colour")
    p.add_argument("--agg", help="aggregation: sum, mean, median, min, max, count")
    p.add_argument("--code", action="store_true",
                   help="put the chart's Python code into the next cell")
    p.add_argument("--no-cache", dest="no_cache", action="store_true",
                   help="ask again instead of reusing a cached answer")
    p.add_argument("--explain", action="store_true",
                   help="also show the code and how the chart was chosen")
    p.add_argument("--static", action="store_true",
                   help="also attach a PNG image (ANYVIZ_STATIC=1 for every chart)")
    p.add_argument("request", nargs="*", help="what to show, in plain language")
    return p


def _parse(parser: _Parser, line: str):
    words = split_words(line)
    if "-h" in words or "--help" in words:
        iopub.stream("stdout", parser.format_help())
        return None
    args, extra = parser.parse_known_args(words)
    unknown = [w for w in extra if w.startswith("--")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if extra and hasattr(args, "request"):
        args.request = list(args.request) + extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _next_cell(code: str) -> None:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.set_next_input(code, replace=False)


def viz(line: str) -> None:
    """%viz [options] REQUEST — plain language to an interactive Plotly chart.

    Uses the LLM configured with %llm (or ANYVIZ_LLM_* settings); without one, or when its answer
    fails, the built-in planner picks the chart. Every chart is checked and run in a sandbox.

    Examples:
      %viz revenue by region
      %viz sales monthly revenue trend --type line
      %viz --x region --y revenue --agg sum
      %viz --code          (the last chart, with its customizations, as code in the next cell)

    Options:
      --df NAME       the DataFrame to chart (default: the one most recently loaded or used);
                      a request whose first word names a DataFrame picks that frame
      --type TYPE     bar, line, scatter, pie, histogram, box, violin, area, heatmap
      --x COL, --y COL, --color COL
      --agg AGG       sum, mean, median, min, max, count
      --code          put the chart's Python code into the next cell (reproducible notebook)
      --no-cache      ask again instead of reusing a cached answer
      --explain       also show the code and how the chart was chosen
      --static        also attach a PNG image (ANYVIZ_STATIC=1 for every chart)
    """
    from ..viz import api, pipeline

    args = _parse(_viz_parser(), line)
    if args is None:
        return
    hinted = any(v is not None for v in (args.df, args.type, args.x, args.y, args.color, args.agg))
    if args.code and not args.request and not hinted:
        script = pipeline.last_chart_script()
        if script:
            _next_cell(script)
            print("The last chart's code (with its customizations) is in the next cell.")
            return
    frame, text = args.df, " ".join(args.request)
    if frame is None and text:
        split = api.split_frame({"request": text})
        if split.get("frame"):
            frame, text = split["frame"], split.get("request") or ""
    request = pipeline.VizRequest.of(frame=frame, text=text, type=args.type, x=args.x, y=args.y,
                                     color=args.color, agg=args.agg,
                                     use_cache=not args.no_cache, static=args.static)
    outcome = pipeline.viz(request)
    if args.code:
        code = pipeline.last_chart_script() or outcome.code
        if code:
            _next_cell(code)
    if args.explain:
        calls = outcome.llm_calls
        text = f"How this chart was made: {outcome.level}"
        if calls:
            text += f" ({calls} LLM call{'' if calls == 1 else 's'})"
        text += f".\n{outcome.explanation}"
        if outcome.code:
            text += f"\n\nCode:\n{outcome.code}"
        print(text)


def customize(line: str) -> None:
    """%customize INSTRUCTION — change the last chart in place.

    Examples: %customize title 'Sales 2024' · %customize log scale y · %customize dark theme ·
    %customize colors by region · %customize horizontal bars. Changes accumulate; %viz --code
    puts the customized chart's code into the next cell. Uses the LLM when configured, else
    the built-in rules (titles, axes, log scales, themes, sizes, legends, orientation).
    """
    instruction = line.strip()
    if not instruction:
        raise UsageError("Say what to change, e.g. %customize title 'Sales 2024' or "
                         "%customize dark theme.")
    from ..viz import pipeline

    pipeline.customize(instruction)


def _llm_parser() -> _Parser:
    p = _Parser("llm", usage="%%llm [--provider P] [--model M] [--base-url URL] "
                             "[--key-env VAR] [--timeout S]")
    p.add_argument("--provider", help="gemini, openai (also Ollama, llama.cpp, vLLM, "
                                      "LM Studio) or offline")
    p.add_argument("--model", help="model name")
    p.add_argument("--base-url", dest="base_url", help="endpoint base URL, e.g. "
                                                       "http://localhost:11434/v1 for Ollama")
    p.add_argument("--key-env", dest="key_env", help="name of an environment variable that "
                                                     "holds the API key")
    p.add_argument("--timeout", type=float, help="seconds per request")
    return p


def llm(line: str) -> None:
    """%llm [--provider P] [--model M] [--base-url URL] [--key-env VAR] [--timeout S]
    — show or set the LLM used by %viz and %customize (never prints a key).

    The key itself never goes into a notebook: --key-env names an environment variable of the
    kernel that holds it. Providers: gemini, openai (any OpenAI-compatible endpoint: Ollama,
    llama.cpp, vLLM, LM Studio) or offline (the built-in planner only).
    """
    from .. import llm as settings

    args = _parse(_llm_parser(), line)
    if args is None:
        return
    print(settings.configure(**vars(args)).summary)


def _describe_cache(stats: dict) -> str:
    location = stats.get("url") or stats.get("path") or ""
    warning = f"\nWarning: {stats['warning']}" if stats.get("warning") else ""
    return (f"Store: {stats.get('store', 'disk')} {location}\n"
            f"Entries: {stats.get('entries', 0)}\n"
            f"Hits: {stats.get('hits', 0)}, misses: {stats.get('misses', 0)}{warning}")


def cache(line: str) -> None:
    """%cache [clear] — %viz cache statistics; `%cache clear` empties it."""
    from ..viz import api

    words = split_words(line)
    if words and words != ["clear"]:
        raise UsageError(f"%cache: unknown argument {' '.join(words)!r}; use %cache or "
                         "%cache clear.")
    if words:
        api.cache_clear()
        print("Cache cleared. " + _describe_cache(api.cache_stats()))
    else:
        print(_describe_cache(api.cache_stats()))


def health(line: str) -> None:
    """%health — is this kernel ready to serve charts? Python and package versions, memory,
    DataFrames loaded, the cache store and whether the LLM endpoint answers. Never shows a
    key or data values."""
    import html

    from .. import health as facts_module
    from .. import llm as settings
    from ..viz import api

    facts = iopub.loads_reply(facts_module.report())
    try:
        cache_stats = api.cache_stats()
    except Exception:
        cache_stats = {}
    rows = [("Python", facts.get("python", "?"))]
    for name, version in sorted((facts.get("packages") or {}).items()):
        rows.append((name, version or "not installed"))
    rows.append(("Memory in use (RSS)", f"{float(facts.get('rss_mb') or 0):.1f} MB"))
    frames = facts.get("frames") or {}
    rows.append(("Frames loaded", ", ".join(f"{n} ({f['rows']}×{f['columns']})"
                                            for n, f in sorted(frames.items())) or "none"))
    rows.append(("Cache store", _describe_cache(cache_stats).replace("\n", "; ")))
    rows.append(("LLM", settings.status()))
    width = max(len(r[0]) for r in rows) + 2
    text = "\n".join(r[0].ljust(width) + str(r[1]) for r in rows)
    table = "".join(f'<tr><th style="text-align:left">{html.escape(str(k))}</th>'
                    f'<td style="text-align:left">{html.escape(str(v))}</td></tr>'
                    for k, v in rows)
    iopub.display_data({"text/plain": text, "text/html": f"<table>{table}</table>"})


def warm_sandbox() -> None:
    """Data is in: start the chart sandbox now so the first %viz does not wait for it."""
    try:
        from ..viz import api

        api.warm()
    except Exception:  # warming up is an optimisation; %viz starts the sandbox when needed
        pass
