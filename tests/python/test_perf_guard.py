"""Frames reach the guard's worker through a copy-on-write /dev/shm mapping: same data in the
sandbox (every dtype, index and column label), chart code cannot change the cached copy, no
file is left behind, and the pickle path still works where shared memory is unavailable."""
import glob
import os

import numpy as np
import pandas as pd
import pytest

from anyviz.viz import guard, shared_frames

N = 200_000  # 1.6 MB per float column: above SHM_MIN_BYTES


@pytest.fixture(scope="module")
def big():
    r = np.random.default_rng(4)
    df = pd.DataFrame({
        "v": r.normal(size=N),
        "i": r.integers(-5, 5, N).astype("int32"),
        "flag": r.random(N) < 0.5,
        "when": pd.date_range("2024-01-01", periods=N, freq="min"),
        "tz": pd.date_range("2024-01-01", periods=N, freq="min", tz="Europe/Berlin"),
        "city": pd.array(r.choice(["Berlin", "Paris", None], N), dtype="str"),
        "cat": pd.Categorical(r.choice(list("abc"), N)),
        3: np.arange(N, dtype="float32"),  # a non-string column label
    }, index=pd.Index(np.arange(N) * 2, name="rowid"))
    df.attrs["source"] = "test"
    return df


def _summary_code():
    # Everything the worker sees, reduced to numbers the test can compare exactly.
    return ("s = df.dtypes.astype(str).tolist()\n"
            "fig = px.bar(x=[str(c) for c in df.columns] + ['index', 'attrs'],\n"
            "             y=[float(pd.util.hash_pandas_object(df[c], index=False).sum() % 1000003)\n"
            "                for c in df.columns]\n"
            "               + [float(pd.util.hash_pandas_object(df.index.to_series()).sum() % 1000003),\n"
            "                  float(len(df.attrs))],\n"
            "             title=' '.join(s) + '|' + str(df.index.name))")


def test_frame_arrives_identical_through_shared_memory(g, big, monkeypatch):
    packed = shared_frames.pack_frame(big)
    assert packed is not None, "a 200k-row frame should use shared memory here"
    os.unlink(packed[0])
    r = g.run(_summary_code(), {"df": big}, timeout=60)
    assert r.status == "ok", r.message
    fig = r.figure
    expected = [float(pd.util.hash_pandas_object(big[c], index=False).sum() % 1000003)
                for c in big.columns]
    expected += [float(pd.util.hash_pandas_object(big.index.to_series()).sum() % 1000003), 1.0]
    import base64
    y = fig["data"][0]["y"]
    got = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist() \
        if isinstance(y, dict) else y
    assert got == expected
    assert fig["layout"]["title"]["text"] == " ".join(big.dtypes.astype(str)) + "|rowid"


def test_chart_code_cannot_change_the_cached_frame(g, big):
    before = float(big["v"].sum())
    # writes straight into the column's buffer (the shared mapping), not just pandas setitem
    r = g.run("a = df['v'].values\na.setflags(write=True)\na[:] = 0\n"
              "df.loc[:, 'i'] = 99\nfig = px.bar(x=[1], y=[df['v'].sum()])",
              {"df": big}, timeout=60)
    assert r.status == "ok", r.message
    r = g.run("fig = px.bar(x=[1, 2], y=[df['v'].sum(), float(df['i'].max())])", {"df": big},
              timeout=60)
    assert r.status == "ok", r.message
    import base64
    y = r.figure["data"][0]["y"]
    vals = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]) if isinstance(y, dict) \
        else np.asarray(y)
    assert vals[0] == pytest.approx(before) and vals[1] == 4
    assert float(big["v"].sum()) == before  # and the session's frame is untouched


def test_no_shared_memory_file_is_left_behind(g, big):
    leftovers = glob.glob(os.path.join("/dev/shm", f"anyviz-frame-{os.getpid()}-*"))
    assert leftovers == []


def test_pickle_fallback_without_shared_memory(big, monkeypatch, tmp_path):
    monkeypatch.setenv("ANYVIZ_SHM_DIR", str(tmp_path / "missing"))
    assert shared_frames.pack_frame(big) is None
    gd = guard.Guard()
    gd.start()
    try:
        r = gd.run("fig = px.bar(x=[1], y=[float(df['v'].sum())])", {"df": big}, timeout=60)
        assert r.status == "ok", r.message
    finally:
        gd.stop()


def test_stale_frame_files_of_dead_kernels_are_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("ANYVIZ_SHM_DIR", str(tmp_path))
    dead = tmp_path / "anyviz-frame-999999999-abc"  # no such process
    alive = tmp_path / f"anyviz-frame-{os.getpid()}-def"
    dead.write_bytes(b"x")
    alive.write_bytes(b"x")
    shared_frames.remove_stale_frames()
    assert not dead.exists() and alive.exists()
