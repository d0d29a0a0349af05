"""Join-key detection on orders/customers/products, the registry, %frames, %who and %drop."""
import os

import numpy as np
import pandas as pd
import pytest

from anyviz import session
from anyviz.data import magics, registry, relationships
from anyviz.errors import DataError, UsageError

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


pytestmark = pytest.mark.usefixtures("clean_data_session")


def load_shop():
    magics.load(" ".join(os.path.join(DATA, f) for f in ("customers.csv", "orders.csv", "products.csv")))


def test_shop_relationships_detected_and_shown(bridge):
    load_shop()
    rels = {(r["left"], r["left_col"], r["right"], r["right_col"]): r for r in registry.relationships()}
    assert set(rels) == {("orders", "customer_id", "customers", "id"),
                         ("orders", "product_id", "products", "product_id")}
    for r in rels.values():
        assert r["kind"] == "many-to-one" and r["overlap"] == 1.0
    text = bridge.of_type("display_data")[-1]["data"]["text/plain"]
    assert "orders.customer_id → customers.id (many-to-one, 100% of keys match)" in text
    assert "Possible joins" in bridge.of_type("display_data")[-1]["data"]["text/html"]


def test_overlap_fraction_and_kinds():
    customers = pd.DataFrame({"id": [1, 2, 3, 4]})
    orders = pd.DataFrame({"customer_id": [1, 1, 2, 9, 9, 8]})   # 2 of 4 distinct keys known
    profiles = pd.DataFrame({"customer_id": [1, 2, 3, 4], "bio": list("abcd")})
    found = relationships.detect({"customers": customers, "orders": orders, "profiles": profiles})
    by = {(r["left"], r["right"]): r for r in found}
    assert by[("orders", "customers")]["overlap"] == 0.5
    assert by[("orders", "customers")]["kind"] == "many-to-one"
    one = by[("profiles", "customers")]
    assert one["kind"] == "one-to-one" and one["left_col"] == "customer_id" and one["overlap"] == 1.0
    assert by[("orders", "profiles")]["kind"] == "many-to-one"


def test_similar_names_types_and_non_matches():
    customers = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "id": [1, 2, 3]})
    sales = pd.DataFrame({"cust_id": ["C1", "C1", "C3"], "id": [7, 8, 9], "amount": [1.0, 2.0, 3.0]})
    found = relationships.detect({"customers": customers, "sales": sales})
    assert [(r["left_col"], r["right_col"]) for r in found] == [("cust_id", "customer_id")]
    # keys stored as numbers in one frame and text in the other still match
    a = pd.DataFrame({"store_id": [1, 2, 2]})
    b = pd.DataFrame({"store_id": pd.array(["1", "2", "3"], dtype="str")})
    assert relationships.detect({"a": a, "b": b})[0]["overlap"] == 1.0
    # disjoint values: no relationship even with matching names
    c = pd.DataFrame({"store_id": [100, 200]})
    assert relationships.detect({"a": a, "c": c}) == []


def test_cell_frames_registry_sync_frames_and_who(bridge):
    load_shop()
    session.user_ns["made_here"] = pd.DataFrame({"a": [1, 2, 3]})
    session.user_ns["answer"] = 42
    session.user_ns["_hidden"] = 1
    session.user_ns["np_alias"] = np
    info = registry.frames()
    assert info["made_here"]["source"] == "cell" and info["made_here"]["shape"] == [3, 1]
    assert info["orders"]["shape"] == [8, 5]
    # rebinding a loaded name in a cell re-describes it; deleting removes it and its joins
    session.user_ns["orders"] = session.user_ns["orders"].head(2)
    assert registry.frames()["orders"]["shape"] == [2, 5]
    assert registry.frames()["orders"]["source"] == "cell"
    assert all("orders" not in (r["left"], r["right"]) for r in registry.relationships())
    del session.user_ns["products"]
    assert "products" not in registry.frame_names()

    magics.frames("")
    text = bridge.of_type("display_data")[-1]["data"]["text/plain"]
    assert "customers" in text and "made_here" in text and "3 × 1" in text
    assert "*customers" not in text  # current frame marker goes to the last loaded file
    magics.who("")
    text = bridge.of_type("display_data")[-1]["data"]["text/plain"]
    lines = {ln.split()[0]: ln for ln in text.splitlines()[2:]}
    assert "answer" in lines and "42" in lines["answer"]
    assert "5 rows × 4 columns" in lines["customers"]
    assert "_hidden" not in lines and "np_alias" not in lines and "magics" not in lines
    magics.who("int")
    text = bridge.of_type("display_data")[-1]["data"]["text/plain"]
    assert "answer" in text and "customers" not in text


def test_drop(bridge):
    load_shop()
    session.set_current_frame("orders")
    with pytest.raises(DataError, match="nope is not a DataFrame in this session; nothing was dropped"):
        magics.drop("orders nope")
    assert "orders" in session.user_ns
    magics.drop("orders")
    assert "orders" not in session.user_ns and "orders" not in registry.frame_names()
    assert registry.relationships() == []
    assert session.current_frame == "products"
    magics.drop("--all")
    assert registry.frame_names() == [] and session.current_frame is None
    with pytest.raises(UsageError, match="needs frame names"):
        magics.drop("")


def test_frames_empty(bridge):
    magics.frames("")
    assert "No DataFrames yet" in bridge.of_type("display_data")[-1]["data"]["text/plain"]


def test_drop_frees_the_frame_from_output_history(bridge):
    """A dropped frame that was a cell's result must not stay alive through `_`, `_N` or Out."""
    import gc
    import weakref

    load_shop()
    frame = session.user_ns["orders"]
    ref = weakref.ref(frame)
    session.user_ns.update({"_": frame, "_7": frame, "Out": {7: frame, 8: "other"}, "keep": 1})
    del frame
    magics.drop("orders")
    gc.collect()
    assert ref() is None, "the dropped DataFrame is still referenced"
    assert session.user_ns["Out"] == {8: "other"} and session.user_ns["keep"] == 1
