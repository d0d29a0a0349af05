"""Ordinary ipykernel notebooks must run the same under the kernel under test.

Every notebook in `corpus/` is executed with nbclient twice: under ipykernel (the `python3`
kernelspec of the project's venv, the reference) and under the kernel under test
(`ANYVIZ_TEST_KERNEL`, default `anyviz`). For every code cell the two runs must give the same
outputs in the same order: the same output types (stream name, display_data, execute_result,
error), the same MIME types, and the same text once the truly variable parts are normalised
(see `normalise_text`). Pager payloads (`obj?`) count as outputs too: a user sees them.

Design:
- Runs happen on one asyncio loop in a background thread, at most `PARALLEL` notebooks at a
  time (the machine has two cores). Every run is submitted when the session first needs one,
  so while the first comparison waits, the others are already executing. The reference runs
  are cached for the whole test session.
- Each run gets a fresh working directory holding a copy of `tests/data` as `data/` (for an
  extra notebook: a copy of its own folder), so `%%writefile`/`%run` cannot collide between
  the two kernels; the directory's path is then replaced by `<CWD>` in every output.
- A notebook whose runs differ gets a second ipykernel run: ipykernel's own output varies under
  load, and the candidate must match one of the two reference runs.
- Executed notebooks and the diff of each notebook are written to `artifacts/notebook-corpus/`.
- With `ANYVIZ_TEST_KERNEL=python3` the suite compares two independent ipykernel runs, which
  checks that the normalisation hides only what really varies between two runs.
- ipywidgets: the widget state nbclient saves in the notebook is compared too.
- `ANYVIZ_EXTRA_NOTEBOOKS=dir1:dir2` adds other notebooks (e.g. public ones) to the comparison.
"""
import asyncio
import base64
import datetime as dt
import difflib
import json
import os
import re
import shutil
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path

import nbformat
import pytest

from kernel_harness import ARTIFACTS, KERNEL, ROOT

CORPUS = Path(__file__).parent / "corpus"
NOTEBOOKS = sorted(p.stem for p in CORPUS.glob("*.ipynb"))
# Notebooks nobody here wrote can be compared the same way: ANYVIZ_EXTRA_NOTEBOOKS is a
# list of folders (os.pathsep-separated) whose *.ipynb files join the run.
EXTRA = {p.stem: p for folder in os.environ.get("ANYVIZ_EXTRA_NOTEBOOKS", "").split(os.pathsep)
         if folder for p in sorted(Path(folder).glob("*.ipynb"))}
PATHS = {**EXTRA, **{name: CORPUS / f"{name}.ipynb" for name in NOTEBOOKS}}
DATA_DIR = Path(ROOT) / "tests" / "data"
REPORT_DIR = Path(ARTIFACTS) / "notebook-corpus"
REFERENCE_KERNEL = "python3"
PARALLEL = 2
CELL_TIMEOUT_S = 60
STARTUP_TIMEOUT_S = 90
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
RAISES_TAG = "raises-exception"  # nbclient's own tag for cells that are meant to fail


# ---------------------------------------------------------------------------------------------
# Running notebooks
# ---------------------------------------------------------------------------------------------

class Run:
    """One executed notebook: the notebook, its working directory and each cell's reply."""

    def __init__(self, nb, workdir, replies):
        self.nb = nb
        self.workdir = workdir
        self.replies = replies  # cell index -> execute_reply content


class NotebookRunner:
    """Executes notebooks with nbclient on a private event loop, `PARALLEL` at a time."""

    def __init__(self, parallel=PARALLEL):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="notebook-corpus")
        self._thread.start()
        self._slots = asyncio.run_coroutine_threadsafe(self._make_slots(parallel),
                                                       self._loop).result()
        self._runs = {}
        self._lock = threading.Lock()
        self._workdirs = []  # removed at close: each run writes files (and copies tests/data)

    @staticmethod
    async def _make_slots(parallel):
        return asyncio.Semaphore(parallel)

    def submit(self, name, kernel, role):
        """Future of the `Run` of notebook `name` under `kernel` as `role` ("reference" or
        "candidate"), started once per session. The role is part of the key so that comparing
        ipykernel with itself really compares two runs."""
        with self._lock:
            key = (name, kernel, role)
            if key not in self._runs:
                self._runs[key] = asyncio.run_coroutine_threadsafe(
                    self._run(name, kernel, role), self._loop)
            return self._runs[key]

    def close(self):
        for future in self._runs.values():
            future.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        for workdir in self._workdirs:
            shutil.rmtree(workdir, ignore_errors=True)

    async def _run(self, name, kernel, role):
        async with self._slots:
            run = await self._execute(name, kernel, role)
            flake = _known_flake(run.nb)
            if flake:  # once more: a second run that hits the same race fails the comparison
                print(f"{name} under {kernel}: {flake}; running it again")
                run = await self._execute(name, kernel, role)
            _save_artifact(run.nb, name, kernel if role == "candidate" else "ipykernel")
            return run

    async def _execute(self, name, kernel, role):
        from nbclient import NotebookClient

        nb = nbformat.read(PATHS[name], as_version=4)
        workdir = Path(tempfile.mkdtemp(prefix=f"corpus-{name}-{kernel}-{role}-"))
        self._workdirs.append(workdir)
        if PATHS[name].parent != CORPUS:  # a notebook from elsewhere reads files next to it
            shutil.copytree(PATHS[name].parent, workdir, dirs_exist_ok=True)
        else:
            shutil.copytree(DATA_DIR, workdir / "data")
        replies = {}

        def record(cell, cell_index, execute_reply):
            replies[cell_index] = execute_reply["content"]

        # nbclient waits only 4 s for a cell's outputs after its reply and then drops the rest
        # without an error; with two notebooks running at once on two cores that window was
        # missed (both kernels' trailing outputs went missing in CI runs). Wait as long as a
        # cell may run, and fail loudly if the outputs still do not come.
        client = NotebookClient(
            nb, kernel_name=kernel, timeout=CELL_TIMEOUT_S, iopub_timeout=CELL_TIMEOUT_S,
            raise_on_iopub_timeout=True, startup_timeout=STARTUP_TIMEOUT_S, allow_errors=True,
            resources={"metadata": {"path": str(workdir)}},
            on_cell_executed=record)
        await client.async_execute(env=_kernel_env())
        return Run(nb, workdir, replies)


# Start-up races inside third-party tools that the kernels call the same way, seen in CI under
# load: kaleido (plotly's static export) evaluating its script in Chrome before the page has
# loaded it. Such a run is repeated once; a real difference between the kernels still fails.
KNOWN_FLAKES = {"kaleido_scopes is not defined": "kaleido's Chrome page was not ready"}


def _known_flake(nb):
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = _ANSI.sub("", "\n".join(output.get("traceback", [])) + output.get("evalue", ""))
            for signature, why in KNOWN_FLAKES.items():
                if signature in text:
                    return why
    return None


def _kernel_env():
    """The kernels' environment: ours, offline (a notebook must never reach a real LLM), and
    without pytest's marker, under which ipykernel stops forwarding descriptor output
    (`os.system`, C `printf`) to the notebook as it does for every user."""
    env = dict(os.environ)
    for key in ("GEMINI_API_KEY", "OPENAI_API_KEY", "ANYVIZ_LLM_API_KEY", "PYTEST_CURRENT_TEST"):
        env.pop(key, None)
    return env


def _save_artifact(nb, name, kernel):
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, REPORT_DIR / f"{name}.{kernel}.ipynb")


@pytest.fixture(scope="session")
def runner(request):
    runner = NotebookRunner()
    # Queue every selected notebook now: the first test waits for its own pair while the rest
    # run (`-k 08` runs only what it selects).
    selected = sorted({item.callspec.params["name"] for item in request.session.items
                       if "name" in getattr(getattr(item, "callspec", None), "params", {})})
    for name in selected:
        runner.submit(name, REFERENCE_KERNEL, "reference")
        runner.submit(name, KERNEL, "candidate")
    yield runner
    runner.close()
    write_summary(KERNEL)


def _result(future: Future, name, kernel):
    try:
        return future.result(timeout=CELL_TIMEOUT_S * 20)
    except Exception as exc:  # the run itself broke (kernel died, timeout): say which
        why = f"the notebook did not run to the end under {kernel!r}: {type(exc).__name__}: {exc}"
        _SUMMARY[name] = [(-1, "", why)]
        pytest.fail(f"{name}: {why}")


# ---------------------------------------------------------------------------------------------
# Normalisation: only what truly varies between two runs of the same notebook
# ---------------------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,16}\b")
# IPython's _format_time: "1.23 ms", "1e+03 ns" (3 significant digits), "1min 3s", "1h 2min 3s".
_NUMBER = r"\d+(?:\.\d+)?(?:e[+-]?\d+)?"
_TIME = rf"{_NUMBER}\s?(?:ns|us|µs|μs|ms|s|min|h)(?: {_NUMBER}\s?(?:min|s))*"
_TIMEIT = re.compile(
    rf"{_TIME} ± {_TIME} per loop \(mean ± std\. dev\. of (\d+) runs?, [\d,]+ loops? each\)")
_TIMEIT_SLOWEST = re.compile(
    r"The slowest run took [\d.]+ times longer than the fastest\. This could mean that an "
    r"intermediate result is being cached\.\n")
_TIMEIT_RESULT = re.compile(rf"<TimeitResult : {_TIME} ± {_TIME} per loop [^>]*>")
_CPU_TIMES = re.compile(rf"CPU times: user {_TIME}, sys: {_TIME}, total: {_TIME}")
_WALL_TIME = re.compile(rf"Wall time: {_TIME}")
# ipykernel keeps each cell's code in /tmp/ipykernel_PID/HASH.py (shown by tracebacks, `obj?`,
# warnings): the pid differs on every run, the hash of the code does not.
_CELL_DIR = re.compile(r"/ipykernel_\d+/")
_CONNECTION_FILE = re.compile(r"\S*kernel-[0-9a-f-]{8,}\.json")
# Random UUIDs: plotly's div ids and trace uids, widget model ids.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# matplotlib names SVG markers and clip paths from a per-process random salt (svg.hashsalt).
_SVG_ID = re.compile(r"\b([mp])[0-9a-f]{10}\b")
# plotly's static SVG (kaleido) names its defs and clip paths from a random 6-hex-digit id.
_PLOTLY_SVG_ID = re.compile(r"\b(defs-|topdefs-|clip)[0-9a-f]{6}")
# tqdm's elapsed<remaining time and rate, "[00:01<00:02, 30030.82it/s]" (also HTML-escaped
# and with figure spaces in its widget's label).
_TQDM_TIMES = re.compile(
    r"\[(?:\d+:)?\d\d:\d\d(?:<|&lt;)(?:(?:\d+:)?\d\d:\d\d|\?),(?:\s|\\u2007)*"
    r"(?:\d+(?:\.\d+)?[kMG]?(?:it/s|s/it)|\?it/s)\]")
_STYLER_ID = re.compile(r"T_[0-9a-f]{5}(?=[_ \"])")


def _now_pattern():
    """Date-times of the run itself (yesterday to tomorrow, so midnight and UTC are safe)."""
    today = dt.date.today()
    days = "|".join(str(today + dt.timedelta(days=d)) for d in (-1, 0, 1))
    return re.compile(rf"(?:{days})(?:[ T]\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?)?")


_NOW = _now_pattern()


def normalise_text(text, workdir):
    """The text a user reads, with run-specific parts replaced by placeholders.

    Colours (ANSI) are dropped: frontends render both styles. Random UUIDs, memory addresses, the
    measurements of %timeit / %time / %%time, the run's own date and time, the working
    directory, the pid in ipykernel's cell file folder and connection file names are
    replaced. Everything else must match exactly.
    """
    text = _ANSI.sub("", text)
    text = text.replace(str(workdir), "<CWD>")
    text = text.replace(os.path.realpath(workdir), "<CWD>")
    text = _CELL_DIR.sub("/ipykernel_<PID>/", text)
    text = _CONNECTION_FILE.sub("<CONNECTION-FILE>", text)
    text = _ADDRESS.sub("0x<ADDR>", text)
    text = _TIMEIT_SLOWEST.sub("", text)
    text = _TIMEIT.sub(r"<T> ± <T> per loop (mean ± std. dev. of \1 runs, <N> loops each)", text)
    text = _TIMEIT_RESULT.sub("<TimeitResult>", text)
    text = _CPU_TIMES.sub("CPU times: user <T>, sys: <T>, total: <T>", text)
    text = _WALL_TIME.sub("Wall time: <T>", text)
    text = _NOW.sub("<NOW>", text)
    text = _STYLER_ID.sub("T_<ID>", text)
    text = _TQDM_TIMES.sub("[<TQDM-TIMES>]", text)
    text = _UUID.sub("<UUID>", text)
    return text


def _image_size(mime, b64):
    """(width, height) of a PNG or JPEG: the user sees the picture, its bytes may differ."""
    raw = base64.b64decode(b64)
    if mime == "image/png" and raw[:8] == b"\x89PNG\r\n\x1a\n":
        return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    if mime == "image/jpeg":
        i = 2
        while i + 9 < len(raw):
            marker, length = raw[i + 1], int.from_bytes(raw[i + 2:i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                return (int.from_bytes(raw[i + 7:i + 9], "big"),
                        int.from_bytes(raw[i + 5:i + 7], "big"))
            i += 2 + length
    return f"{len(raw)} bytes"


def _array_length(value):
    if isinstance(value, dict) and "bdata" in value:
        import numpy as np

        count = len(base64.b64decode(value["bdata"])) // np.dtype(value["dtype"]).itemsize
        return count
    if isinstance(value, list):
        return len(value)
    return None


def _plotly_summary(figure):
    """What a Plotly chart shows: traces (type, name, points) and titles, not the encoding."""
    if isinstance(figure, str):
        figure = json.loads(figure)
    layout = figure.get("layout", {})

    def title(obj):
        t = (obj or {}).get("title")
        return t.get("text") if isinstance(t, dict) else t

    traces = []
    for trace in figure.get("data", []):
        traces.append({
            "type": trace.get("type", "scatter"),
            "name": trace.get("name"),
            "mode": trace.get("mode"),
            "points": {axis: _array_length(trace.get(axis)) for axis in ("x", "y", "z", "values")
                       if trace.get(axis) is not None},
        })
    return {"traces": traces, "title": title(layout),
            "xaxis": title(layout.get("xaxis")), "yaxis": title(layout.get("yaxis")),
            "frames": len(figure.get("frames") or [])}


def _canonical_bundle(data):
    """The MIME bundle as compared.

    The one documented difference allowed between the kernels lives here: a bundle that
    carries a Plotly figure is compared by the figure alone. Under ipykernel plotly's default
    renderer in a notebook is `plotly_mimetype` (the JSON only); AnyViz adds `text/html` with
    plotly.js for nbconvert reports and a `text/plain` summary. Both draw the same chart.
    """
    if PLOTLY_MIME in data:
        return {PLOTLY_MIME: data[PLOTLY_MIME]}
    return data


def _canonical_value(mime, value, workdir):
    if mime == PLOTLY_MIME:
        return _plotly_summary(value)
    if mime == WIDGET_VIEW_MIME and isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "model_id"}  # a fresh uuid per run
    if mime in ("image/png", "image/jpeg", "image/gif"):
        return _image_size(mime, value)
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True, indent=1)
    if mime == "image/svg+xml":
        value = _SVG_ID.sub(r"\1<ID>", value)
        value = _PLOTLY_SVG_ID.sub(r"\1<ID>", value)
    return normalise_text(value, workdir)


def canonical_outputs(cell, reply, workdir):
    """The outputs of one code cell as a list of plain dicts, ready to compare and print."""
    items = []
    for out in cell.outputs:
        kind = out.output_type
        if kind == "stream":
            text = normalise_text(out.text, workdir)
            # How a stream is cut into messages depends on flush timing: join neighbours.
            if items and items[-1]["type"] == "stream" and items[-1]["name"] == out.name:
                items[-1]["text"] += text
            else:
                items.append({"type": "stream", "name": out.name, "text": text})
        elif kind in ("display_data", "execute_result"):
            data = _canonical_bundle(out.data)
            item = {"type": kind,
                    "data": {m: _canonical_value(m, v, workdir) for m, v in sorted(data.items())}}
            # Per-MIME metadata (image width, isolated HTML) changes what is drawn.
            meta = {m: out.metadata[m] for m in data if m in out.get("metadata", {})}
            if meta:
                item["metadata"] = meta
            if kind == "execute_result":
                item["execution_count"] = out.execution_count
            items.append(item)
        elif kind == "error":
            items.append({"type": "error", "ename": out.ename,
                          "evalue": normalise_text(out.evalue, workdir),
                          "traceback": normalise_text("\n".join(out.traceback), workdir)})
        else:
            items.append({"type": kind})
    for payload in (reply or {}).get("payload", []):
        source = payload.get("source")
        if source == "page":
            text = payload.get("data", {}).get("text/plain", "")
            items.append({"type": "payload:page", "text": normalise_text(text, workdir)})
        elif source == "set_next_input":
            items.append({"type": "payload:set_next_input", "text": payload.get("text", "")})
    return items


_MODEL_REF = re.compile(r"IPY_MODEL_[0-9a-f]{32}")


def canonical_widget_state(run):
    """The ipywidgets models nbclient saved (what a reopened notebook shows): model names and
    states, sorted, with the per-run model ids taken out. It proves the comm traffic arrived
    (values set from Python, outputs captured by an Output widget)."""
    widgets = run.nb.metadata.get("widgets", {}).get(WIDGET_STATE_MIME, {})
    models = []
    for model in widgets.get("state", {}).values():
        text = json.dumps({"model": model.get("model_name"), "state": model.get("state")},
                          sort_keys=True)
        models.append(normalise_text(_MODEL_REF.sub("IPY_MODEL_<ID>", text), run.workdir))
    return sorted(models)


def render(items):
    """Readable text of a cell's canonical outputs (what the diff shows)."""
    lines = []
    for item in items:
        head = {k: v for k, v in item.items() if k not in ("text", "data", "traceback")}
        lines.append(json.dumps(head, sort_keys=True))
        for key in ("text", "traceback"):
            if key in item:
                lines.extend(f"  | {line}" for line in item[key].split("\n"))
        for mime, value in item.get("data", {}).items():
            lines.append(f"  [{mime}]")
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            lines.extend(f"  | {line}" for line in text.split("\n"))
    return lines


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------

def _code_cells(run):
    return [(i, c) for i, c in enumerate(run.nb.cells) if c.cell_type == "code"]


def compare_runs(reference, candidate, kernel):
    """(cell index, source, diff lines, one-line reason) for every cell whose outputs differ."""
    differences = []
    for (index, ref_cell), (_, cand_cell) in zip(_code_cells(reference), _code_cells(candidate)):
        expected = canonical_outputs(ref_cell, reference.replies.get(index), reference.workdir)
        actual = canonical_outputs(cand_cell, candidate.replies.get(index), candidate.workdir)
        if expected != actual:
            diff = list(difflib.unified_diff(render(expected), render(actual),
                                             fromfile="ipykernel", tofile=kernel, lineterm="",
                                             n=4))
            differences.append((index, ref_cell.source, diff, reason(expected, actual)))
    expected, actual = canonical_widget_state(reference), canonical_widget_state(candidate)
    if expected != actual:
        diff = list(difflib.unified_diff(expected, actual, fromfile="ipykernel", tofile=kernel,
                                         lineterm="", n=1))
        why = (f"widget models: ipykernel {len(expected)} | got {len(actual)} "
               "(or their states differ)")
        differences.append(("widgets", "(the notebook's saved widget state)", diff, why))
    return differences


def _describe(name, differences, kernel, limit_lines=120):
    first_index, source, diff, _ = differences[0]
    indices = ", ".join(str(d[0]) for d in differences)
    lines = [f"{name}: {len(differences)} cell(s) differ from ipykernel under {kernel!r} "
             f"(cells {indices}). First differing cell, #{first_index}:",
             *(f"    {line}" for line in source.split("\n")), "", *diff[:limit_lines]]
    if len(diff) > limit_lines:
        lines.append(f"... {len(diff) - limit_lines} more diff lines; full report in "
                     f"{REPORT_DIR / (name + '.diff.txt')}")
    return "\n".join(lines)


def _shape(items):
    """Output types in order, e.g. `stream:stdout, display_data[text/html,text/plain]`."""
    parts = []
    for item in items:
        if item["type"] == "stream":
            parts.append(f"stream:{item['name']}")
        elif item["type"] == "error":
            parts.append(f"error:{item['ename']}")
        elif "data" in item:
            parts.append(f"{item['type']}[{','.join(item['data'])}]")
        else:
            parts.append(item["type"])
    return ", ".join(parts) or "nothing"


def reason(expected, actual):
    """One line saying how a cell differs (for the summary the kernel engineers read)."""
    if _shape(expected) != _shape(actual):
        return f"outputs: ipykernel {_shape(expected)} | got {_shape(actual)}"
    for want, got in zip(expected, actual):
        if want != got:
            for key in ("text", "evalue", "traceback", "data", "metadata", "execution_count"):
                if want.get(key) != got.get(key):
                    w, g = (json.dumps(v, sort_keys=True, ensure_ascii=False)[:90]
                            for v in (want.get(key), got.get(key)))
                    return f"{_shape([want])} {key} differs: ipykernel {w} | got {g}"
    return "differs"


_SUMMARY = {}


def write_summary(kernel):
    """artifacts/notebook-corpus/SUMMARY.md: every notebook, every differing cell, one line."""
    if not _SUMMARY:
        return
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    lines = [f"# Notebook corpus under {kernel!r} vs ipykernel", ""]
    passed = sorted(n for n, cells in _SUMMARY.items() if cells == [])
    lines.append(f"{len(passed)} of {len(_SUMMARY)} notebooks match: {', '.join(passed) or '-'}")
    for name, cells in sorted(_SUMMARY.items()):
        if not cells:
            continue
        lines += ["", f"## {name} ({len(cells)} cell(s) differ)"]
        for index, source, why in cells:
            first = source.strip().split("\n")[0][:70]
            lines.append(f"- cell {index} `{first}`: {why}")
    (REPORT_DIR / "SUMMARY.md").write_text("\n".join(lines) + "\n")


def _write_report(name, differences, kernel):
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    path = REPORT_DIR / f"{name}.diff.txt"
    if not differences:
        path.write_text(f"{name}: every cell matches ipykernel under {kernel!r}\n")
        return
    chunks = []
    for index, source, diff, _ in differences:
        chunks.append(f"=== cell {index}\n{source}\n---\n" + "\n".join(diff))
    path.write_text("\n\n".join(chunks) + "\n")


@pytest.mark.parametrize("name", sorted(PATHS))
def test_notebook_matches_ipykernel(runner, name):
    reference = _result(runner.submit(name, REFERENCE_KERNEL, "reference"), name,
                        REFERENCE_KERNEL)
    candidate = _result(runner.submit(name, KERNEL, "candidate"), name, KERNEL)
    differences = compare_runs(reference, candidate, KERNEL)
    if differences:
        # ipykernel's own output varies under load (a display published after its idle
        # status, a forked child's writes reordered): a second reference run decides, and the
        # candidate, run once, must match one of the two.
        again = _result(runner.submit(name, REFERENCE_KERNEL, "second reference"), name,
                        REFERENCE_KERNEL)
        if not compare_runs(again, candidate, KERNEL):
            print(f"{name}: the first ipykernel run differed; the second matches")
            differences = []
    _write_report(name, differences, KERNEL)
    _SUMMARY[name] = [(index, source, why) for index, source, _, why in differences]
    if differences:
        pytest.fail(_describe(name, differences, KERNEL), pytrace=False)


# ---------------------------------------------------------------------------------------------
# The corpus itself
# ---------------------------------------------------------------------------------------------

# What the corpus must exercise (the habits of ordinary ipykernel notebooks), as patterns
# over the code cells.
REQUIRED_IN_CORPUS = [
    r"^%timeit ", r"^%%timeit", r"^%%time$", r"^%time ", r"^!ls", r"^!echo", r"^%pip ",
    r"^%env ", r"^%run ", r"^%history", r"^%whos", r"^%who$", r"^%%writefile ", r"^%%capture",
    r"^%%html", r"^%%bash", r"^%matplotlib inline", r"^\w[\w.]*\?$", r"^\w[\w.]*\?\?$",
    r"\bIn\[\d+\]", r"\bOut\[\d+\]", r"^_ \+ __$", r"\bdisplay\(", r"\bHTML\(",
    r"\bMarkdown\(", r"\bImage\(", r"\bclear_output\(", r"\bupdate_display\(",
    r"threading\.Timer", r"\bfig\.show\(\)", r"display\(fig\)", r"^fig$", r"\.groupby\(",
    r"pivot_table", r"import plotly\.express", r"import matplotlib\.pyplot", r"await ",
]


def test_corpus_covers_the_habits_of_ipykernel_notebooks():
    assert len(NOTEBOOKS) >= 15, f"only {len(NOTEBOOKS)} notebooks in {CORPUS}"
    sources = "\n".join(
        c.source for name in NOTEBOOKS
        for c in nbformat.read(CORPUS / f"{name}.ipynb", as_version=4).cells
        if c.cell_type == "code")
    missing = [p for p in REQUIRED_IN_CORPUS if not re.search(p, sources, re.M)]
    assert not missing, f"the corpus never uses: {missing}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_reference_run_fails_only_where_intended(runner, name):
    """Under ipykernel only cells tagged `raises-exception` may end in an error.

    This keeps the corpus honest: a notebook that breaks under ipykernel itself (a typo, a
    missing package) would otherwise compare two identical failures and prove nothing.
    """
    reference = _result(runner.submit(name, REFERENCE_KERNEL, "reference"), name,
                        REFERENCE_KERNEL)
    wrong = []
    for index, cell in _code_cells(reference):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        tagged = RAISES_TAG in cell.metadata.get("tags", [])
        if bool(errors) != tagged:
            what = f"{errors[0].ename}: {errors[0].evalue}" if errors else "no error"
            wrong.append(f"cell {index} ({'tagged' if tagged else 'untagged'}): {what}\n"
                         f"    {cell.source[:200]}")
    assert not wrong, f"{name} under ipykernel:\n" + "\n".join(wrong)


# ---------------------------------------------------------------------------------------------
# The normalisation itself (no kernel): it hides what varies, and nothing else
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("first, second", [
    ("CPU times: user 53 μs, sys: 1e+03 ns, total: 54 μs\nWall time: 5.01 µs\n",
     "CPU times: user 1.2 ms, sys: 0 ns, total: 1.2 ms\nWall time: 1min 3s\n"),
    ("611 ns ± 116 ns per loop (mean ± std. dev. of 7 runs, 1,000,000 loops each)\n",
     "The slowest run took 5.12 times longer than the fastest. This could mean that an "
     "intermediate result is being cached.\n"
     "1.1 µs ± 2 ns per loop (mean ± std. dev. of 7 runs, 100,000 loops each)\n"),
    ("[<matplotlib.lines.Line2D at 0x7f2cc6b60e90>]", "[<matplotlib.lines.Line2D at 0x7fa0c1>]"),
    ("File:      /tmp/ipykernel_4242/3481892709.py", "File:      /tmp/ipykernel_7/3481892709.py"),
    ("/tmp/corpus-a/data", "/tmp/corpus-b/data"),
    (f"Run at {dt.date.today()} 10:11", f"Run at {dt.date.today()} 23:59:59.5"),
    ("3/3 [00:00<00:00, 30030.82it/s]", "3/3 [00:01<00:00,  2.50it/s]"),
    ("3/3\\u2007[00:00&lt;00:00,\\u2007160.94it/s]", "3/3\\u2007[01:02:03&lt;00:00,\\u20071.5s/it]"),
    ("'uid': '56cdb304-e2ca-4471-bfd8-93b239001bc3'", "'uid': 'c18dc8e3-816a-4a2e-baf7-5f96b2fd3033'"),
])
def test_normalisation_hides_what_varies(first, second):
    workdir = "/tmp/corpus-a" if "corpus-a" in first else "/tmp/x"
    other = "/tmp/corpus-b" if "corpus-b" in second else "/tmp/y"
    assert normalise_text(first, workdir) == normalise_text(second, other)


@pytest.mark.parametrize("first, second", [
    ("611 ns ± 116 ns per loop (mean ± std. dev. of 7 runs, 10 loops each)",
     "611 ns ± 116 ns per loop (mean ± std. dev. of 3 runs, 10 loops each)"),
    ("2024-01-03 00:00:00", "2024-01-04 00:00:00"),  # dates in the data are data
    ("File: /tmp/ipykernel_1/3481892709.py", "File: /tmp/ipykernel_1/3481892710.py"),
    ("incomplete input (3481892709.py, line 1)", "incomplete input (<ipython-input-6-2a>, line 1)"),
    ("a\t b\t \n", "a\t anyviz\t b\t \n"),
    ("2/3 [00:00<00:00, 30030.82it/s]", "3/3 [00:00<00:00, 30030.82it/s]"),
])
def test_normalisation_keeps_real_differences(first, second):
    assert normalise_text(first, "/tmp/x") != normalise_text(second, "/tmp/x")


def test_plotly_bundles_compare_by_figure():
    figure = {"data": [{"type": "bar", "x": {"dtype": "i1", "bdata": "AQI="}, "y": [3, 4]}],
              "layout": {"title": {"text": "t"}}}
    with_html = {PLOTLY_MIME: figure, "text/html": "<div>plotly.js</div>", "text/plain": "Figure"}
    assert _canonical_bundle(with_html) == {PLOTLY_MIME: figure}
    summary = _plotly_summary(figure)
    assert summary["traces"] == [{"type": "bar", "name": None, "mode": None,
                                  "points": {"x": 2, "y": 2}}]
    assert summary["title"] == "t"
