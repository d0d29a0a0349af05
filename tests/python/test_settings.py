"""ANYVIZ_* settings of charts and data: read when used, and a value that cannot be read is
an error naming the setting, never a silent default."""
import pytest

from anyviz import settings
from anyviz.errors import AnyVizError


def test_defaults_when_unset(monkeypatch):
    for name in ("ANYVIZ_MAX_POINTS", "ANYVIZ_REDUCE_ROWS", "ANYVIZ_GUARD_TIMEOUT_S",
                 "ANYVIZ_GUARD_MEMORY_MB", "ANYVIZ_STATIC"):
        monkeypatch.delenv(name, raising=False)
    assert settings.point_limits() == (4000, 50_000)
    assert settings.guard_timeout_s() == 10.0 and settings.guard_memory_mb() == 4096
    assert settings.static_png() is False


def test_a_changed_environment_applies_at_once(monkeypatch):
    monkeypatch.setenv("ANYVIZ_MAX_POINTS", "2000")
    assert settings.max_points() == 2000
    monkeypatch.setenv("ANYVIZ_MAX_POINTS", " 3000 ")
    assert settings.max_points() == 3000


def test_arguments_win_over_the_environment_and_limits_are_clamped(monkeypatch):
    monkeypatch.setenv("ANYVIZ_MAX_POINTS", "2000")
    assert settings.point_limits(100, 7) == (100, 7)
    assert settings.point_limits(1, -5) == (16, 0)


@pytest.mark.parametrize("name,reader", [
    ("ANYVIZ_MAX_POINTS", settings.max_points),
    ("ANYVIZ_REDUCE_ROWS", settings.reduce_rows),
    ("ANYVIZ_GUARD_TIMEOUT_S", settings.guard_timeout_s),
    ("ANYVIZ_GUARD_MEMORY_MB", settings.guard_memory_mb),
    ("ANYVIZ_LOW_MEMORY_FRACTION", settings.low_memory_fraction),
])
def test_an_unreadable_number_names_the_setting(monkeypatch, name, reader):
    monkeypatch.setenv(name, "lots")
    with pytest.raises(AnyVizError, match=f"{name}='lots' is not a .*number: set it to e.g."):
        reader()


def test_static_setting_reports_what_it_does_not_understand(monkeypatch):
    monkeypatch.setenv("ANYVIZ_STATIC", "Yes")
    assert settings.static_png() is True
    monkeypatch.setenv("ANYVIZ_STATIC", "maybe")
    assert settings.static_png() is None
