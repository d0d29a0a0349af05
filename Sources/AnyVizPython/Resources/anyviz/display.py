"""Rich display in the kernel is IPython's (`IPython.display`); this module adds what AnyViz
changes about it: Plotly figures become one output carrying both the Plotly MIME type and HTML
(plotly.js once per session) through `anyviz.viz.output`, with large figures reduced first.

`display(fig)`, a bare `fig` and `fig.show()` all end up there: the first two through the
formatter registered here, `fig.show()` through the display publisher (`anyviz.shell`).
"""
from __future__ import annotations

import os
import sys

from IPython.display import (HTML, JSON, SVG, DisplayHandle, Image, Markdown,  # noqa: F401
                             clear_output, display, update_display)

from . import hooks

__all__ = ["display", "update_display", "clear_output", "DisplayHandle", "HTML", "Markdown",
           "SVG", "JSON", "Image", "install"]


def _show_plotly_figure(fig) -> None:
    """IPython display printer for plotly figures (replaces plotly's `_ipython_display_`).

    A `FigureWidget` is a widget: raising NotImplementedError (as its own `_ipython_display_`
    does) lets IPython show it through its `_repr_mimebundle_` as a widget view."""
    from IPython.display import display as show

    widget_module = sys.modules.get("plotly.basewidget")
    if widget_module is not None and isinstance(fig, widget_module.BaseFigureWidget):
        raise NotImplementedError

    bundle = hooks.figure_bundle(fig)
    if bundle is None:  # no chart package, or a broken one: plotly's own path still shows the chart
        import plotly.io as pio

        pio.show(fig)
        return
    data, metadata = bundle
    frames = getattr(fig, "frames", None)
    if frames:  # animation frames travel with the figure, as plotly's own renderer sends them
        from . import jsonutil

        data["application/vnd.plotly.v1+json"]["frames"] = jsonutil.loads(
            jsonutil.dumps([frame.to_plotly_json() for frame in frames]))
    show(data, metadata=metadata, raw=True)


def install(shell) -> None:
    """Registers the Plotly printer (by name: plotly is imported only by user code) and makes
    plotly's renderer the MIME one, so fig.show() goes through the shell's display."""
    os.environ.setdefault("PLOTLY_RENDERER", "plotly_mimetype")
    formatter = shell.display_formatter.ipython_display_formatter
    formatter.for_type_by_name("plotly.basedatatypes", "BaseFigure", _show_plotly_figure)
