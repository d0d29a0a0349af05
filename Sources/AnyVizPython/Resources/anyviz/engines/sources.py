"""What an engine table's source names: URL schemes, file kinds and the data files behind a
path. Shared by loading (which reads them) and frame (whose identity watches them)."""
from __future__ import annotations

import glob
import os

URL_SCHEMES = ("duckdb://", "spark://", "sc://")
DB_SUFFIXES = (".duckdb", ".ddb")
PARQUET = (".parquet", ".parq", ".pq")
CSV = (".csv", ".tsv", ".csv.gz", ".tsv.gz")


def data_files(path: str) -> list[str]:
    """The data files behind a path: a file, a folder (recursively) or a glob."""
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        found = [os.path.join(root, f) for root, _, names in os.walk(path) for f in names
                 if f.lower().endswith(PARQUET + CSV)]
        return sorted(found)
    if glob.has_magic(path):
        return sorted(m for m in glob.glob(path, recursive=True) if os.path.isfile(m))
    return [path] if os.path.isfile(path) else []
