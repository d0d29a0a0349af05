"""One quoting rule for magic arguments, %customize clauses and the %viz request reader."""
import pytest

from anyviz.viz.customize import split_clauses
from anyviz.viz.nlp import tokenize
from anyviz.words import quoted_spans, split_words


@pytest.mark.parametrize("line,words", [
    ("what's the trend", ["what's", "the", "trend"]),                  # unbalanced: a character
    ("--title 'Sales 2024' pop by continent", ["--title", "Sales 2024", "pop", "by", "continent"]),
    ('--title "" x', ["--title", "", "x"]),                            # an empty argument stays
    ("--title 'Bob's chart' y", ["--title", "Bob's chart", "y"]),      # apostrophe inside a word
    ("where name = 'O'Brien'", ["where", "name", "=", "O'Brien"]),
    ("it's 'x' vs 'y'", ["it's", "x", "vs", "y"]),
    ("a `b c`", ["a", "`b", "c`"]),                                    # backticks are text here
])
def test_magic_arguments(line, words):
    assert split_words(line) == words


def test_customize_clauses_are_not_swallowed_by_an_apostrophe():
    assert split_clauses("title what's new and log y") == ["title what's new", "log y"]
    assert split_clauses("title 'Sales, 2024 and more' and log scale y") == [
        "title 'Sales, 2024 and more'", "log scale y"]


def test_request_reader_uses_the_same_spans():
    text = "sales by region where name = 'Bob's shop' and don't stack"
    quoted = [t.raw for t in tokenize(text) if t.quoted]
    assert quoted == ["Bob's shop"]
    assert [text[a:b] for a, b in quoted_spans(text)] == ["'Bob's shop'"]
    assert "country" in [t.text for t in tokenize("pop by country's continent")]
