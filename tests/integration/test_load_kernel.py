"""%load end to end: the real kernel over the wire (jupyter_client), the awkward-file corpus of
tests/data/make_awkward.py, local relationships, %profile bundles and http:// URLs fetched by the
kernel's libcurl from a local http.server.

tests/python/test_load.py covers the same behaviour through a fake bridge; here every check is
what a frontend receives: execute replies (status, ename, evalue), IOPub bundles, and values
read back from the kernel by running ordinary cells.
"""
import functools
import http.server
import json
import os
import sys
import threading

import pandas as pd
import pytest

from kernel_harness import ROOT, execute, requires_anyviz, start_kernel, stop_kernel

pytestmark = requires_anyviz  # %load / %profile are AnyViz magics

sys.path.insert(0, os.path.join(ROOT, "tests", "data"))
from make_awkward import BAD_FILE_MESSAGES as BAD, write_corpus  # noqa: E402

TESTS_DATA = os.path.join(ROOT, "tests", "data")


@pytest.fixture(scope="module")
def kc():
    km, client = start_kernel()
    try:
        yield client
    finally:
        stop_kernel(km, client)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(str(tmp_path_factory.mktemp("awkward")), big=True)


def run_ok(kc, code, timeout=60):
    r = execute(kc, code, timeout=timeout)
    assert r.status == "ok", f"{code!r}: {r.content.get('ename')}: {r.content.get('evalue')}"
    return r


def run_error(kc, code, timeout=60):
    r = execute(kc, code, timeout=timeout)
    assert r.status == "error", f"{code!r} succeeded; outputs: {r.outputs}"
    errors = r.of_type("error")
    assert len(errors) == 1, errors
    # the IOPub error a frontend renders says the same as the reply
    assert errors[0]["content"]["ename"] == r.content["ename"]
    assert errors[0]["content"]["evalue"] == r.content["evalue"]
    return r


def frame_facts(kc, name):
    """Shape, column names, dtypes and values of a frame in the kernel, read by a plain cell."""
    code = (f"import json as _j\n"
            f"print(_j.dumps({{'shape': list({name}.shape), 'columns': [str(c) for c in {name}.columns],"
            f" 'dtypes': [str(t) for t in {name}.dtypes],"
            f" 'values': _j.loads({name}.head(50).to_json(orient='values', date_format='iso'))}}))")
    return json.loads(run_ok(kc, code).stream())


CHECKSUM = ("import json as _j, pandas as _pd\n"
            "print(_j.dumps({'hash': int(_pd.util.hash_pandas_object(keeper, index=True).sum()),"
            " 'id': id(keeper), 'columns': list(keeper.columns),"
            " 'dtypes': [str(t) for t in keeper.dtypes], 'shape': list(keeper.shape)}))")


@pytest.fixture
def keeper(kc, tmp_path):
    """A frame loaded before a bad %load; returns a function giving its checksum now."""
    p = tmp_path / "keeper.csv"
    p.write_text("k,v,when\n1,a,2024-01-01\n2,b,2024-01-02\n3,,2024-01-03\n")
    run_ok(kc, f"%load {p}")
    return lambda: json.loads(run_ok(kc, CHECKSUM).stream())


def _bound(kc, name):
    return run_ok(kc, f"print({name!r} in globals())").stream().strip() == "True"


# ---------------------------------------------------------------- bad files



@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_gives_clear_error_and_changes_nothing(kc, corpus, keeper, name):
    before = keeper()
    r = run_error(kc, f"%load {corpus[name]}", timeout=90)
    assert r.content["ename"] == "DataError"
    for fragment in BAD[name]:
        assert fragment in r.content["evalue"], r.content["evalue"]
    # a user error, not a crash: the traceback is the message, not Python internals
    assert not any("File \"" in line for line in r.content["traceback"]), r.content["traceback"]
    assert keeper() == before
    assert not _bound(kc, os.path.splitext(name)[0])


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_message_says_what_to_do(kc, corpus, name):
    """Besides naming the problem, each message points at a next step (a fix, an option, a
    check), so the user is never left with only "this is wrong"."""
    advice = ("unzip", "fix", "check", "convert", "export", "save", "--", "set ", "use ", "try",
              "%load reads")  # the last one lists the formats that do work
    evalue = run_error(kc, f"%load {corpus[name]}", timeout=90).content["evalue"]
    assert any(a in evalue.lower() for a in advice), f"{name}: no advice in {evalue!r}"


def test_missing_file_and_batch_with_one_bad_file(kc, corpus, keeper, tmp_path):
    before = keeper()
    missing = run_error(kc, f"%load {tmp_path}/nope.csv")
    assert missing.content["ename"] == "DataError"
    assert "nope.csv: no such file" in missing.content["evalue"]
    assert "Check the path" in missing.content["evalue"]
    fresh = tmp_path / "fresh.csv"
    fresh.write_text("a,b\n1,2\n")
    batch = run_error(kc, f"%load {fresh} {corpus['report.csv']}")
    assert "Nothing was loaded" in batch.content["evalue"]
    assert "report.csv" in batch.content["evalue"]
    assert not _bound(kc, "fresh")
    assert keeper() == before


def test_usage_error_is_reported_as_usage(kc, keeper):
    before = keeper()
    r = run_error(kc, "%load")
    assert r.content["ename"] == "UsageError"
    assert "%load needs a file" in r.content["evalue"]
    assert "%load?" in r.content["evalue"]  # where to read more
    assert keeper() == before


# ---------------------------------------------------------------- good files

GOOD = {
    # file: (options, variable, shape, {column: dtype prefix}, {column: values})
    "bom.csv": ("", "bom", [2, 2], {"id": "int64"}, {"café": ["crème", "brûlée"]}),
    "utf16.csv": ("", "utf16", [2, 2], {"id": "int64"}, {"name": ["Zoë", "Łukasz"]}),
    "latin1.csv": ("", "latin1", [2, 2], {"id": "int64"}, {"name": ["Müller", "Señor"]}),
    "semicolon.csv": ("", "semicolon", [3, 3], {"amount": "float64"}, {"amount": [10.5, 20.0, 7.0]}),
    "tabbed.txt": ("", "tabbed", [2, 3], {"amount": "float64"}, {"city": ["Berlin", "Paris"]}),
    "piped.txt": ("", "piped", [2, 3], {"amount": "float64"}, {"amount": [10.5, 20.0]}),
    "quoted_newlines.csv": ("", "quoted_newlines", [3, 3], {"score": "int64"},
                            {"comment": ["first line\nsecond line", "plain, with comma",
                                         'say "hi"\nagain']}),
    "dup_cols.csv": ("", "dup_cols", [2, 5], {"amount_2": "int64"},
                     {"amount_2": [3, 7], "note": ["x", "y"]}),
    "good.csv.gz": ("", "good", [3, 4], {"amount": "float64", "day": "datetime64"},
                    {"city": ["Berlin", "Paris", "Rome"], "amount": [10.5, 20.0, None]}),
    "gz_named.csv": ("", "gz_named", [3, 4], {"id": "int64"}, {"city": ["Berlin", "Paris", "Rome"]}),
    "header_only.csv": ("", "header_only", [0, 3], {}, {"id": []}),
    "dates.csv": ("", "dates", [3, 3], {"d": "datetime64", "ts": "datetime64"},
                  {"label": ["a", "b", "c"],
                   "ts": ["2024-01-05T10:30:00.000", "2024-02-06T11:00:00.000", None]}),
    "records.json": ("", "records", [2, 3], {"id": "int64"}, {"name": ["a", "b"]}),
    "lines.jsonl": ("", "lines", [3, 2], {"x": "float64"}, {"x": [1.5, 2.5, None]}),
    "ragged.csv": ("--on-bad-lines skip", "ragged", [3, 3], {"a": "int64"}, {"a": [1, 6, 13]}),
    "wide.csv": ("", "wide", [2, 10_000], {"c9999": "int64"}, {"c9999": [9999, 19998]}),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_file_shape_dtypes_values(kc, corpus, name):
    options, var, shape, dtypes, values = GOOD[name]
    r = run_ok(kc, f"%load {corpus[name]} {options}".strip())
    assert f"{var}: " in r.of_type("display_data")[0]["content"]["data"]["text/plain"]
    facts = frame_facts(kc, var)
    assert facts["shape"] == shape
    types = dict(zip(facts["columns"], facts["dtypes"]))
    for col, prefix in dtypes.items():
        assert types[col].startswith(prefix), (col, types[col])
    for col, expected in values.items():
        i = facts["columns"].index(col)
        assert [row[i] for row in facts["values"]] == expected


def test_mixed_type_column_beyond_the_sniffed_rows_stays_text(kc, corpus):
    run_ok(kc, f"%load {corpus['mixed_types.csv']}")
    out = run_ok(kc, "print(len(mixed_types), repr(mixed_types['code'].iloc[-1]), "
                     "repr(mixed_types['code'].iloc[0]), mixed_types['value'].dtype)").stream()
    assert out.split() == ["2001", "'A12'", "'0'", "int64"]


def test_load_notices_reach_the_frontend(kc, corpus):
    text = run_ok(kc, f"%load {corpus['latin1.csv']}").of_type("display_data")[0]["content"]["data"]["text/plain"]
    assert "Latin-1" in text
    text = run_ok(kc, f"%load {corpus['dup_cols.csv']}").of_type("display_data")[0]["content"]["data"]["text/plain"]
    assert "amount → amount_2" in text
    html = run_ok(kc, f"%load {corpus['header_only.csv']}").of_type("display_data")[0]["content"]["data"]["text/html"]
    assert "has a header but no data rows" in html and "<script" not in html


# ---------------------------------------------------------------- %profile


@pytest.mark.parametrize("name", ["good.csv.gz", "dates.csv"])
def test_profile_bundle_over_the_wire(kc, corpus, name):
    """Frames with missing numbers/dates: the JSON must still be strict JSON (no NaN)."""
    var = GOOD[name][1]
    run_ok(kc, f"%load {corpus[name]}")
    r = run_ok(kc, f"%profile {var}")
    (bundle,) = [m["content"] for m in r.of_type("display_data")]
    assert set(bundle["data"]) == {"text/html", "application/vnd.anyviz.profile+json", "text/plain"}
    assert "<script" not in bundle["data"]["text/html"].lower()
    # jupyter_client's json.loads would accept NaN; re-serialising strictly proves there is none
    facts = bundle["data"]["application/vnd.anyviz.profile+json"]
    json.dumps(facts, allow_nan=False)
    assert f"Profile of {var}: 3 rows" in bundle["data"]["text/plain"]
    assert "missing" in bundle["data"]["text/plain"]


# ---------------------------------------------------------------- relationships


def test_relationships_for_orders_customers_products(kc):
    paths = " ".join(os.path.join(TESTS_DATA, f) for f in ("orders.csv", "customers.csv", "products.csv"))
    r = run_ok(kc, f"%load {paths}")
    text = "\n".join(m["content"]["data"]["text/plain"] for m in r.of_type("display_data"))
    assert "orders.customer_id → customers.id (many-to-one, 100% of keys match)" in text
    assert "orders.product_id → products.product_id (many-to-one, 100% of keys match)" in text
    frames = run_ok(kc, "%frames").of_type("display_data")[0]["content"]["data"]["text/plain"]
    assert "orders.customer_id → customers.id" in frames
    # the detected keys really join in the kernel
    out = run_ok(kc, "print(len(orders.merge(customers, left_on='customer_id', right_on='id')),"
                     " len(orders))").stream().split()
    assert out[0] == out[1] == str(len(pd.read_csv(os.path.join(TESTS_DATA, "orders.csv"))))


# ---------------------------------------------------------------- URLs


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_base():
    """A local http.server on 127.0.0.1 (free port) serving tests/data, in a thread."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=TESTS_DATA))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_load_http_url(kc, http_base):
    run_ok(kc, "globals().pop('customers', None)")  # so the frame below can only come from the URL
    r = run_ok(kc, f"%load {http_base}/customers.csv", timeout=60)
    assert _bound(kc, "customers")
    assert "customers: 5 rows × 4 columns" in r.of_type("display_data")[0]["content"]["data"]["text/plain"]
    facts = frame_facts(kc, "customers")
    local = pd.read_csv(os.path.join(TESTS_DATA, "customers.csv"))
    assert facts["columns"] == list(local.columns)
    assert facts["shape"] == list(local.shape)
    assert [row[1] for row in facts["values"]] == local["name"].tolist()
    assert dict(zip(facts["columns"], facts["dtypes"]))["signup_date"].startswith("datetime64")


def test_load_http_404_is_a_clear_error(kc, http_base, keeper):
    before = keeper()
    url = f"{http_base}/missing.csv"
    r = run_error(kc, f"%load {url}", timeout=60)
    assert r.content["ename"] == "DataError"
    evalue = r.content["evalue"]
    assert f"Could not download {url}" in evalue
    assert "404" in evalue
    assert "download it yourself" in evalue or "Check the URL" in evalue
    assert ".." not in evalue.replace(url, ""), f"garbled message: {evalue!r}"
    assert not _bound(kc, "missing")
    assert keeper() == before


def test_load_from_a_closed_port_is_a_clear_error(kc, keeper):
    """Nothing listening: the message names the URL, says why once and what to do, ungarbled."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = keeper()
    url = f"http://127.0.0.1:{port}/orders.csv"
    evalue = run_error(kc, f"%load {url}", timeout=60).content["evalue"]
    assert f"Could not download {url}" in evalue
    assert "connect" in evalue.lower()
    assert "download it yourself and %load the local file" in evalue
    assert ".." not in evalue.replace(url, ""), f"garbled message: {evalue!r}"
    assert evalue.count("Check the URL") == 1, f"advice repeated: {evalue!r}"
    assert keeper() == before
