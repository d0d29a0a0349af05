"""AnyViz's Python runtime: the code the Swift kernel runs inside its embedded CPython.

In any other IPython kernel, `%load_ext anyviz` brings the magics (see `ipython_extension`).
"""


def load_ipython_extension(shell):
    """`%load_ext anyviz` (imported lazily: the AnyViz kernel imports this package at start)."""
    from .ipython_extension import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell):
    from .ipython_extension import unload_ipython_extension as unload

    unload(shell)
