"""AnyViz's magics, as IPython magics.

Adding a magic means writing one Python function: a method of `AnyVizMagics` decorated with
`@line_magic` (or `@cell_magic`), whose docstring is its `%name?` help. Work that needs the
kernel's native side (the LLM client over libcurl, downloads, metrics) goes through
`anyviz.iopub.call(service, payload)`, which releases the GIL while Swift works.

`%load` is AnyViz's (data files into DataFrames); IPython's own `%load` (code from a file or
URL into the next cell) stays available as `%loadpy`.
"""
from __future__ import annotations

import sys

from IPython.core.magic import Magics, line_magic, magics_class

from .. import hooks
from ..data import magics as data_magics
from . import viz as viz_magics


def _doc(func):
    """Use an implementation's docstring as the magic's help."""
    def decorate(method):
        method.__doc__ = func.__doc__
        return method
    return decorate


@magics_class
class AnyVizMagics(Magics):
    """Data loading, profiling and charts."""

    @line_magic
    @_doc(data_magics.load)
    def load(self, line):
        data_magics.load(line)
        viz_magics.warm_sandbox()

    @line_magic
    @_doc(data_magics.profile)
    def profile(self, line):
        data_magics.profile(line)

    @line_magic
    @_doc(data_magics.frames)
    def frames(self, line):
        data_magics.frames(line)

    @line_magic
    @_doc(data_magics.drop)
    def drop(self, line):
        data_magics.drop(line)

    @line_magic
    @_doc(viz_magics.viz)
    def viz(self, line):
        viz_magics.viz(line)

    @line_magic
    @_doc(viz_magics.customize)
    def customize(self, line):
        viz_magics.customize(line)

    @line_magic
    @_doc(viz_magics.llm)
    def llm(self, line):
        viz_magics.llm(line)

    @line_magic
    @_doc(viz_magics.cache)
    def cache(self, line):
        viz_magics.cache(line)

    @line_magic
    @_doc(viz_magics.health)
    def health(self, line):
        viz_magics.health(line)


_sandbox_started = False


def _warm_sandbox_after_cell() -> None:
    """Once the session works with pandas, start the chart sandbox's worker process in the
    background (it imports pandas and plotly, ~1.5 s), so the first %viz does not wait for it.
    Before that, nothing is started: a kernel used without data stays light."""
    global _sandbox_started
    if _sandbox_started or "pandas" not in sys.modules:
        return
    _sandbox_started = True
    from ..viz import guard

    guard.get_guard().start()


def _figure_bundle(fig):
    """Plotly figures shown by any code get the chart package's output (HTML with plotly.js
    once per session, large figures reduced); imported at the first figure, not at start."""
    from ..viz.output import figure_bundle

    return figure_bundle(fig)


def install(shell) -> None:
    """Register the AnyViz magics and the chart package's figure display; IPython's
    code-loading %load moves to %loadpy."""
    hooks.register_figure_bundle(_figure_bundle)
    hooks.register_after_cell(_warm_sandbox_after_cell)
    manager = shell.magics_manager
    # IPython registers its code magics lazily; load them now, or using %save later would load
    # them and put IPython's %load back over ours.
    ipython_load = shell.find_line_magic("load")
    if ipython_load is not None and getattr(ipython_load, "__self__", None) is not None \
            and not isinstance(ipython_load.__self__, AnyVizMagics):
        manager.magics["line"]["loadpy"] = ipython_load
    shell.register_magics(AnyVizMagics)
