"""Engines: data too big for memory (DuckDB) or already on a cluster (Spark), reached through
one expression layer (Ibis). See docs/ENGINES.md.

Importing this package is cheap (no Ibis, DuckDB or Spark import): the %load, %viz and
%profile code paths ask `is_lazy(obj)` / `load_wanted(line)` first and pay for the engine only
when one is used.
"""
from __future__ import annotations


def is_lazy(obj) -> bool:
    """Whether `obj` is an engine table (a LazyFrame)."""
    from .frame import LazyFrame

    return isinstance(obj, LazyFrame)


def load_wanted(line: str) -> bool:
    """Whether `%load line` makes an engine table (see loading.wants)."""
    from . import loading

    return loading.wants(line)


def load(line: str) -> None:
    from . import loading

    loading.load(line)


def viz_target(name: str | None):
    """(name, LazyFrame) when the %viz call is about an engine table, else None."""
    from .viz import current_lazy

    return current_lazy(name)


def viz_call(function: str, name: str, frame, args: dict) -> dict:
    """One anyviz.viz.api call (context, plan, render, simple, table) on an engine table."""
    from . import viz

    return getattr(viz, function)(name, frame, args)


def profile_bundle(frame, name: str, columns=None) -> dict:
    from . import profile

    return profile.bundle(frame, name, columns)


def chart(frame, spec, *, show: bool = False):
    from .viz import chart as _chart

    return _chart(frame, spec, show=show)


def __getattr__(name):
    if name == "LazyFrame":
        from .frame import LazyFrame

        return LazyFrame
    raise AttributeError(name)
