"""Data in the session: `%load`, `%profile`, `%who`, `%frames`, `%drop` and the frame registry.

Modules here may import pandas at top level: they are imported only when one of these magics
runs, never at kernel start.
"""
