"""Engines: data too big for memory (DuckDB) or already on a cluster (Spark), reached through
one expression layer (Ibis). See docs/ENGINES.md.

Importing this package is cheap (no Ibis, DuckDB or Spark import): the %load, %viz and
%profile code paths ask `is_lazy(obj)` / `load_wanted(line)` first and pay for the engine only
when one is used.
"""
from __future__ import annotations


def _cancelled(func):
    """An interrupt leaves an engine call as a bare KeyboardInterrupt: the frames inside the
    engine layer say nothing to the user, and formatting them (IPython parses each file for
    its context lines) delayed the end of an interrupted cell by seconds."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            pass
        raise KeyboardInterrupt()

    return wrapper


def is_lazy(obj) -> bool:
    """Whether `obj` is an engine table (a LazyFrame)."""
    from .frame import LazyFrame

    return isinstance(obj, LazyFrame)


def load_wanted(line: str) -> bool:
    """Whether `%load line` makes an engine table (see loading.wants)."""
    from . import loading

    return loading.wants(line)


@_cancelled
def load(line: str) -> None:
    from . import loading

    loading.load(line)


def viz_target(name: str | None):
    """(name, LazyFrame) when the %viz call is about an engine table, else None."""
    from .viz import current_lazy

    return current_lazy(name)


@_cancelled
def viz_call(function: str, name: str, frame, args: dict) -> dict:
    """One anyviz.viz.api call (context, plan, render, simple, table) on an engine table."""
    from . import viz

    return getattr(viz, function)(name, frame, args)


@_cancelled
def profile_bundle(frame, name: str, columns=None) -> dict:
    from . import profile

    return profile.bundle(frame, name, columns)


@_cancelled
def chart(frame, spec, *, show: bool = False):
    from .viz import chart as _chart

    return _chart(frame, spec, show=show)


def __getattr__(name):
    if name == "LazyFrame":
        from .frame import LazyFrame

        return LazyFrame
    raise AttributeError(name)
