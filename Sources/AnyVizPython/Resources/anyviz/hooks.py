"""Where the chart and data packages plug into the kernel core.

The core (shell, display, runtime) imports no chart or data module; like IPython's formatters
(`for_type`), the packages register what they add when their magics are installed
(anyviz.magics.install). A core without them still works: figures are shown by plotly's own
renderer and cells run as usual.
"""
from __future__ import annotations

_figure_bundle = None
_after_cell: list = []


def register_figure_bundle(function) -> None:
    """`function(fig)` turns a Plotly figure (or a {"data", "layout"} dict) into a display
    bundle (data, metadata)."""
    global _figure_bundle
    _figure_bundle = function


def figure_bundle(fig):
    """(data, metadata) for a figure, or None when no package registered one or it failed
    (a broken chart package must not hide the chart: plotly's own output stays)."""
    if _figure_bundle is None:
        return None
    try:
        return _figure_bundle(fig)
    except Exception:  # noqa: BLE001 - plotly's own output is the fallback
        return None


def register_after_cell(function) -> None:
    """`function()` runs after every cell (e.g. the chart sandbox warming up once data is in)."""
    if function not in _after_cell:
        _after_cell.append(function)


def after_cell() -> None:
    """Run the after-cell functions; an optional step never disturbs the cell's reply."""
    for function in list(_after_cell):
        try:
            function()
        except Exception:  # noqa: BLE001
            pass
