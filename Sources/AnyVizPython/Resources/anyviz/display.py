"""Rich display: MIME bundles for any object, `display()`, display handles and simple wrappers.

Formatting follows IPython's conventions (`_repr_mimebundle_`, `_repr_html_`, ...) so objects that
already know how to show themselves in Jupyter work unchanged. Nothing heavy is imported here:
pandas and plotly objects are recognised by their class names, so this module loads in
microseconds and only code that is already loaded runs.
"""
from __future__ import annotations

import base64
import json
import os
import sys

from . import iopub

__all__ = ["display", "update_display", "clear_output", "format_bundle", "DisplayHandle",
           "HTML", "Markdown", "SVG", "JSON", "Image"]

# Optional `_repr_*_` methods, in the order IPython tries them, with their MIME type.
_REPR_METHODS = (
    ("_repr_html_", "text/html"),
    ("_repr_markdown_", "text/markdown"),
    ("_repr_svg_", "image/svg+xml"),
    ("_repr_png_", "image/png"),
    ("_repr_jpeg_", "image/jpeg"),
    ("_repr_latex_", "text/latex"),
    ("_repr_json_", "application/json"),
    ("_repr_javascript_", "application/javascript"),
)
_BINARY = {"image/png", "image/jpeg", "image/gif"}
_PLOTLY_MIME = "application/vnd.plotly.v1+json"
_PRETTY_WIDTH = 79
_PRETTY_MAX_ITEMS = 10_000  # pprint of huge containers is slow and unreadable anyway


def _class_names(obj) -> set[str]:
    return {f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__}


def _is_plotly_figure(obj) -> bool:
    """True for plotly Figure/FigureWidget (and subclasses) without importing plotly."""
    if "plotly" not in sys.modules:
        return False
    names = _class_names(obj)
    return any(n.startswith("plotly.") and n.rsplit(".", 1)[-1] in ("Figure", "FigureWidget")
               for n in names) or "plotly.basedatatypes.BaseFigure" in names


def _pandas_kind(obj) -> str | None:
    if "pandas" not in sys.modules:
        return None
    names = _class_names(obj)
    if "pandas.DataFrame" in names or "pandas.core.frame.DataFrame" in names:
        return "frame"
    if "pandas.Series" in names or "pandas.core.series.Series" in names:
        return "series"
    return None


def _method(obj, name):
    """The bound method `name` if the *class* defines it (objects with a permissive
    `__getattr__`, like mocks or proxies, must not look displayable) and obj is not a class."""
    if isinstance(obj, type) or not callable(getattr(type(obj), name, None)):
        return None
    return getattr(obj, name)


def _warn(obj, method: str, exc: BaseException) -> None:
    sys.stderr.write(f"{type(obj).__name__}.{method}() failed ({type(exc).__name__}: {exc}); "
                     "showing the plain-text form instead.\n")


def _split(result):
    """`_repr_*_` may return data or (data, metadata)."""
    if isinstance(result, tuple) and len(result) == 2:
        return result[0], result[1]
    return result, None


def _encode(mime: str, value):
    if mime in _BINARY and isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if mime == "application/json" and isinstance(value, (str, bytes)):
        return json.loads(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def plain_text(obj) -> str:
    """repr(obj), pretty-printed over several lines for long built-in containers."""
    text = repr(obj)
    if (len(text) > _PRETTY_WIDTH and type(obj) in (list, tuple, dict, set, frozenset)
            and len(obj) <= _PRETTY_MAX_ITEMS):
        import pprint

        text = pprint.pformat(obj, width=_PRETTY_WIDTH, sort_dicts=False)
    return text


def _plotly_bundle(fig) -> tuple[dict, dict]:
    try:
        from .viz.output import figure_bundle
    except Exception:  # the viz package is missing or broken: still show the chart
        figure_bundle = None
    if figure_bundle is not None:
        return figure_bundle(fig)
    from . import jsonutil

    spec = json.loads(jsonutil.dumps(fig.to_plotly_json()))  # NaN/Infinity -> null
    return {_PLOTLY_MIME: spec, "text/plain": repr(fig)}, {}


def format_bundle(obj, include=None, exclude=None) -> tuple[dict, dict]:
    """(data, metadata) MIME bundle for obj; `text/plain` is always present."""
    if _is_plotly_figure(obj):
        data, metadata = _plotly_bundle(obj)
        data.setdefault("text/plain", repr(obj))
        return data, metadata or {}

    data: dict = {}
    metadata: dict = {}
    mimebundle = _method(obj, "_repr_mimebundle_")
    if mimebundle is not None:
        try:
            result = mimebundle(include=include, exclude=exclude)
        except TypeError:  # older signature without include/exclude
            result = mimebundle()
        except Exception as exc:
            _warn(obj, "_repr_mimebundle_", exc)
            result = None
        md = None
        if isinstance(result, tuple):
            result, md = _split(result)
        if result:
            data.update({k: _encode(k, v) for k, v in result.items()})
        if md:
            metadata.update(md)

    kind = _pandas_kind(obj)
    if kind == "series" and "text/html" not in data:
        try:  # pandas has no Series HTML repr; the one-column frame respects display options
            html = obj.to_frame()._repr_html_()
            if html:
                data["text/html"] = html
        except Exception as exc:
            _warn(obj, "to_frame()._repr_html_", exc)

    for method_name, mime in _REPR_METHODS:
        if mime in data:
            continue
        method = _method(obj, method_name)
        if method is None:
            continue
        try:
            value, md = _split(method())
        except Exception as exc:
            _warn(obj, method_name, exc)
            continue
        if value is None:
            continue
        data[mime] = _encode(mime, value)
        if md:
            metadata[mime] = md

    if "text/plain" not in data:
        data["text/plain"] = plain_text(obj)
    if include:
        data = {k: v for k, v in data.items() if k in include or k == "text/plain"}
    if exclude:
        data = {k: v for k, v in data.items() if k not in exclude or k == "text/plain"}
    return data, metadata


# --- display ----------------------------------------------------------------------------------

class DisplayHandle:
    """A display that can be updated later: `h = display(x, display_id=True); h.update(y)`."""

    def __init__(self, display_id: str | None = None):
        self.display_id = display_id or iopub.new_display_id()

    def __repr__(self):
        return f"<DisplayHandle display_id={self.display_id}>"

    def display(self, obj, **kwargs) -> None:
        display(obj, display_id=self.display_id, **kwargs)

    def update(self, obj, **kwargs) -> None:
        display(obj, display_id=self.display_id, update=True, **kwargs)


def _publish(data: dict, metadata: dict, display_id, update: bool) -> None:
    from . import streams

    streams.flush_all()  # keep text printed before the display above it
    iopub.display_data(data, metadata, display_id=display_id, update=update)


def display(*objs, include=None, exclude=None, metadata=None, transient=None, raw=False,
            display_id=None, clear=False, update=False, **kwargs):
    """Show objects as rich outputs (like IPython's `display`).

    raw=True: each obj already is a MIME bundle dict. display_id=True creates a new id;
    a string reuses one; either way a DisplayHandle is returned. update=True replaces the output
    with that id. clear=True clears the cell output (when the next output arrives) first.
    """
    if transient and "display_id" in transient and display_id is None:
        display_id = transient["display_id"]
    if update and display_id in (None, True):
        raise TypeError("display(..., update=True) needs the display_id of the output to update")
    handle = None
    if display_id is not None:
        handle = DisplayHandle(None if display_id is True else str(display_id))
        display_id = handle.display_id
    if clear:
        clear_output(wait=True)
    for obj in objs:
        if raw:
            data, md = dict(obj), dict(metadata or {})
        else:
            custom = _method(obj, "_ipython_display_")
            if custom is not None:
                custom()
                continue
            data, md = format_bundle(obj, include=include, exclude=exclude)
            if metadata:
                md = {**md, **metadata}
        _publish(data, md, display_id, update)
    return handle


def update_display(obj, *, display_id, **kwargs) -> None:
    """Replace the output shown earlier with `display(..., display_id=display_id)`."""
    display(obj, display_id=display_id, update=True, **kwargs)


def clear_output(wait: bool = False) -> None:
    """Clear the cell's output; with wait=True only when the next output arrives (no flicker)."""
    from . import streams

    streams.flush_all()
    iopub.clear_output(wait)


# --- simple wrappers ----------------------------------------------------------------------------

class _TextDisplay:
    _mime = "text/plain"

    def __init__(self, data=None, *, url=None, filename=None, metadata=None):
        if data is not None and filename is None and url is None and isinstance(data, str) \
                and len(data) < 4096 and "\n" not in data and os.path.isfile(data):
            filename = data  # IPython accepts a path as the first argument
            data = None
        if filename is not None:
            with open(filename, encoding="utf-8") as fh:
                data = fh.read()
        self.data = data if data is not None else ""
        self.url = url
        self.metadata = metadata or {}

    def __repr__(self):
        return f"<{type(self).__name__} object>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {self._mime: self.data, "text/plain": repr(self)}
        return bundle, ({self._mime: self.metadata} if self.metadata else {})


class HTML(_TextDisplay):
    """HTML source shown as rendered HTML."""
    _mime = "text/html"


class Markdown(_TextDisplay):
    """Markdown text shown rendered."""
    _mime = "text/markdown"


class SVG(_TextDisplay):
    """An SVG image from its XML source or a file."""
    _mime = "image/svg+xml"


class JSON:
    """A dict/list (or JSON text) shown as an interactive tree."""

    def __init__(self, data=None, *, expanded: bool = False, root: str = "root", metadata=None):
        self.data = json.loads(data) if isinstance(data, (str, bytes)) else data
        self.metadata = {"expanded": expanded, "root": root, **(metadata or {})}

    def __repr__(self):
        return "<JSON object>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        from . import jsonutil

        clean = json.loads(jsonutil.dumps(self.data))  # JSON-compatible, no NaN
        return ({"application/json": clean, "text/plain": repr(self)},
                {"application/json": self.metadata})


class Image:
    """A PNG/JPEG/GIF image from bytes or a file name."""

    _SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8", "jpeg"), (b"GIF8", "gif"))

    def __init__(self, data=None, *, filename=None, format=None, width=None, height=None,
                 metadata=None):
        if isinstance(data, str) and filename is None:
            filename, data = data, None
        if filename is not None:
            with open(filename, "rb") as fh:
                data = fh.read()
            if format is None:
                ext = os.path.splitext(filename)[1].lower().lstrip(".")
                format = {"jpg": "jpeg"}.get(ext, ext) or None
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("Image() needs the image bytes or a file name, e.g. "
                            "Image(filename='plot.png')")
        data = bytes(data)
        if format is None:
            format = next((f for sig, f in self._SIGNATURES if data.startswith(sig)), None)
        if format not in ("png", "jpeg", "gif"):
            raise ValueError(f"Image() supports png, jpeg and gif, not {format!r}; pass "
                             "format='png' if the data has no recognisable header")
        self.data, self.format = data, format
        self.width, self.height = width, height
        self.metadata = metadata or {}

    def __repr__(self):
        return f"<Image {self.format} {len(self.data)} bytes>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        mime = f"image/{self.format}"
        md = dict(self.metadata)
        if self.width is not None:
            md["width"] = self.width
        if self.height is not None:
            md["height"] = self.height
        return ({mime: base64.b64encode(self.data).decode("ascii"), "text/plain": repr(self)},
                {mime: md} if md else {})


# --- IPython interop --------------------------------------------------------------------------

_IPY_MODULE = "IPython.core.display_functions"


class _IPythonDisplayHook:
    """Meta-path finder that, when user code imports IPython's display functions, points them
    at ours (IPython without a running shell would just print the repr). Importing IPython at
    start would cost ~0.3 s, so we wait for the user to do it."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _IPY_MODULE:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            patch_ipython(module)

        loader.exec_module = exec_module
        return spec


def patch_ipython(module) -> None:
    module.display = display
    module.update_display = update_display
    module.clear_output = clear_output


def install_ipython_hook() -> None:
    if _IPY_MODULE in sys.modules:
        patch_ipython(sys.modules[_IPY_MODULE])
        for name in ("IPython.display", "IPython.core.display"):
            mod = sys.modules.get(name)
            if mod is not None:
                patch_ipython(mod)
        return
    if not any(isinstance(f, _IPythonDisplayHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _IPythonDisplayHook())
