"""Static images: show_figure(static=True) / ANYVIZ_STATIC=1 attach a real PNG made by
kaleido + Chromium, leave the interactive MIME types as they were, and say why when they cannot.

The tests that render need kaleido and a Chromium; they share one renderer (started once, ~3 s).
"""
import base64
import io
import os
import re
import shutil
import sys

import pandas as pd
import plotly.express as px
import pytest

from anyviz.viz import output

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BAR_BLUE = (0x63, 0x6E, 0xFA)  # plotly's first colorway colour: the bars

kaleido = pytest.importorskip("kaleido", reason="kaleido not installed (pip install kaleido)")
Image = pytest.importorskip("PIL.Image", reason="Pillow decodes the PNG in these tests")
needs_browser = pytest.mark.skipif(
    not (os.environ.get("BROWSER_PATH") or any(os.path.exists(p) for p in output._BROWSERS)),
    reason="no Chromium for kaleido")


@pytest.fixture(autouse=True)
def fresh_session(monkeypatch):
    monkeypatch.delenv(output.STATIC_ENV, raising=False)
    output.reset_session()
    yield
    output.reset_session()


@pytest.fixture(scope="module", autouse=True)
def stop_renderer():
    yield
    output.close_static_renderer()


def _fig(**layout):
    df = pd.DataFrame({"region": ["north", "south", "east", "west"], "units": [3, 5, 2, 7]})
    fig = px.bar(df, x="region", y="units", title="Units by region")
    if layout:
        fig.update_layout(**layout)
    return fig


def _chart(bridge):
    """The chart bundle show_figure published (the first display_data)."""
    return bridge.of_type("display_data")[0]["data"]


def _info(bridge):
    infos = [c["data"] for c in bridge.of_type("display_data") if "text/markdown" in c["data"]]
    return infos[0]["text/markdown"] if infos else ""


def _decode(b64):
    raw = base64.b64decode(b64, validate=True)
    assert raw.startswith(PNG_MAGIC)
    img = Image.open(io.BytesIO(raw))
    img.load()  # decodes every pixel: a truncated or corrupt PNG raises here
    return img.convert("RGB")


def _blue_pixels(img):
    return sum(n for n, rgb in img.getcolors(img.width * img.height)
               if all(abs(a - b) <= 3 for a, b in zip(rgb, BAR_BLUE)))


def _without_div_ids(html):
    return re.sub(r"anyviz-[0-9a-f]{32}", "anyviz-ID", html)


@needs_browser
def test_static_adds_a_png_of_the_chart_and_leaves_other_types_unchanged(bridge):
    output.show_figure(_fig(), display_id="plain")
    plain = _chart(bridge)
    bridge.messages.clear()
    output.reset_session()  # so both bundles carry plotly.js and can be compared whole

    output.show_figure(_fig(), display_id="static", static=True)
    data = _chart(bridge)

    assert set(data) == set(plain) | {"image/png"}
    for mime in (output.PLOTLY_MIME, "text/plain"):
        assert data[mime] == plain[mime]
    assert _without_div_ids(data["text/html"]) == _without_div_ids(plain["text/html"])
    img = _decode(data["image/png"])
    assert (img.width, img.height) == (output.STATIC_WIDTH, output.STATIC_HEIGHT)
    # The bars are drawn: a real rendering, not a blank page.
    assert _blue_pixels(img) > 2_000
    assert _info(bridge) == ""  # no failure note


@needs_browser
def test_png_uses_the_figure_size_when_the_layout_sets_one(bridge):
    output.show_figure(_fig(width=420, height=300), static=True)
    img = _decode(_chart(bridge)["image/png"])
    assert (img.width, img.height) == (420, 300)


@needs_browser
def test_more_bars_more_blue(bridge):
    """The PNG shows this figure's data: a bar 7x taller paints clearly more bar pixels."""
    small = pd.DataFrame({"r": ["a", "b"], "u": [1, 1]})
    tall = pd.DataFrame({"r": ["a", "b"], "u": [1, 7]})
    output.show_figure(px.bar(small, x="r", y="u", range_y=[0, 8]), static=True)
    output.show_figure(px.bar(tall, x="r", y="u", range_y=[0, 8]), static=True)
    first, second = [_decode(c["data"]["image/png"]) for c in bridge.of_type("display_data")]
    assert _blue_pixels(second) > 3 * _blue_pixels(first)


@needs_browser
def test_env_turns_static_on_for_every_chart(bridge, monkeypatch):
    monkeypatch.setenv(output.STATIC_ENV, "1")
    output.show_figure(_fig())
    output.show_figure(_fig(), explanation="second chart")
    charts = [c["data"] for c in bridge.of_type("display_data") if output.PLOTLY_MIME in c["data"]]
    assert len(charts) == 2
    for data in charts:
        assert _decode(data["image/png"]).size == (output.STATIC_WIDTH, output.STATIC_HEIGHT)


@needs_browser
def test_renderer_is_reused_between_charts(bridge):
    output.show_figure(_fig(), static=True)
    first = output._renderer
    output.show_figure(_fig(), static=True)
    assert first is not None and output._renderer is first


@pytest.mark.parametrize("value", ["", "0", "off", "false"])
def test_env_off_or_unset_means_no_png(bridge, monkeypatch, value):
    monkeypatch.setenv(output.STATIC_ENV, value)
    output.show_figure(_fig())
    assert "image/png" not in _chart(bridge)
    assert bridge.of_type("stream") == []


def test_explicit_false_wins_over_env(bridge, monkeypatch):
    monkeypatch.setenv(output.STATIC_ENV, "1")
    output.show_figure(_fig(), static=False)
    assert "image/png" not in _chart(bridge)


def test_unknown_env_value_is_reported_and_treated_as_off(bridge, monkeypatch):
    monkeypatch.setenv(output.STATIC_ENV, "maybe")
    output.show_figure(_fig())
    assert "image/png" not in _chart(bridge)
    (err,) = bridge.of_type("stream")
    assert err["name"] == "stderr"
    assert "ANYVIZ_STATIC='maybe' is not understood" in err["text"]
    assert "set it to 1" in err["text"]


def test_without_kaleido_the_chart_is_shown_and_the_note_says_how_to_fix(bridge, monkeypatch):
    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido -> ImportError
    output.show_figure(_fig(), static=True, note="Bars sorted by units.")
    data = _chart(bridge)
    assert "image/png" not in data and output.PLOTLY_MIME in data
    info = _info(bridge)
    assert "Bars sorted by units." in info  # the existing note is kept
    assert "No static image attached: kaleido is not installed" in info
    assert "pip install 'kaleido>=1'" in info


def test_without_a_browser_the_note_says_how_to_fix(bridge, monkeypatch, tmp_path):
    output.close_static_renderer()  # force a fresh browser start
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chromium"))
    output.show_figure(_fig(), static=True)
    assert "image/png" not in _chart(bridge)
    info = _info(bridge)
    assert "No static image attached:" in info
    assert "kaleido found no Chrome/Chromium" in info
    assert f"BROWSER_PATH={str(tmp_path / 'no-such-chromium')!r} is not a browser" in info
    assert output._renderer is None  # the next chart tries again


@needs_browser
@pytest.mark.skipif(shutil.which("true") is None, reason="needs /bin/true")
def test_a_browser_that_dies_gives_a_note_not_a_hang(bridge, monkeypatch):
    """`true` exits at once: the render must fail with a message, then recover."""
    output.close_static_renderer()
    monkeypatch.setenv("BROWSER_PATH", shutil.which("true"))
    monkeypatch.setattr(output, "STATIC_TIMEOUT_S", 10.0)
    output.show_figure(_fig(), static=True)
    assert "image/png" not in _chart(bridge)
    info = _info(bridge)
    assert "No static image attached: rendering the PNG failed (BrowserFailedError" in info
    assert "the interactive chart above is unaffected. Run the cell again to retry." in info
    assert output._renderer is None
    monkeypatch.delenv("BROWSER_PATH")
    bridge.messages.clear()
    output.show_figure(_fig(), static=True)  # recovers with a fresh browser
    assert _decode(_chart(bridge)["image/png"]).size == (output.STATIC_WIDTH, output.STATIC_HEIGHT)
