"""A matplotlib backend that shows figures as PNG outputs of the cell, as IPython's inline
backend does: `plt.show()` displays the open figures, and figures still open when a cell ends
are displayed then (the runtime calls `flush`). Selected through MPLBACKEND at kernel start, so
users need no `%matplotlib inline`."""
from __future__ import annotations

import io

from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import _Backend
from matplotlib.backends.backend_agg import _BackendAgg


def flush() -> None:
    """Display every open pyplot figure as a PNG and close it."""
    from . import display

    try:
        for manager in Gcf.get_all_fig_managers():
            figure = manager.canvas.figure
            if not figure.axes and not figure.images and not figure.texts:
                continue  # an empty figure (plt.figure() with nothing drawn) shows nothing
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", bbox_inches="tight")
            display.display(display.Image(buffer.getvalue(), format="png"))
    finally:
        Gcf.destroy_all()


@_Backend.export
class _BackendInline(_BackendAgg):
    @staticmethod
    def show(block=None):
        flush()
