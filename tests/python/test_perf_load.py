"""%load's memory-saving paths read exactly the same frame as the default path."""
import numpy as np
import pandas as pd
import pyarrow as pa

from anyviz.data import loader


def _csv(tmp_path):
    r = np.random.default_rng(0)
    n = 60_000
    df = pd.DataFrame({"id": np.arange(n), "date": pd.Timestamp("2020-01-01")
                       + pd.to_timedelta(r.integers(0, 900, n), unit="D"),
                       "store": r.choice(["a", "b", None], n), "price": np.round(r.random(n), 3)})
    path = tmp_path / "sales.csv"
    df.to_csv(path, index=False, date_format="%Y-%m-%d")
    return str(path)


def test_low_memory_streaming_read_matches_default(tmp_path, monkeypatch):
    path = _csv(tmp_path)
    monkeypatch.setenv("ANYVIZ_LOW_MEMORY_FRACTION", "0")
    normal = loader.read_file(path, progress=False).df
    monkeypatch.setenv("ANYVIZ_LOW_MEMORY_FRACTION", "1e-12")  # every file counts as large
    assert loader._low_memory(1 << 20)
    streamed = loader.read_file(path, progress=False).df
    pd.testing.assert_frame_equal(normal, streamed)
    assert str(normal["date"].dtype).startswith("datetime64")


def test_default_pool_is_restored_after_a_load(tmp_path):
    before = pa.default_memory_pool().backend_name
    loader.read_file(_csv(tmp_path), progress=False)
    assert pa.default_memory_pool().backend_name == before
