"""One quoting rule for everything typed after a magic: magic arguments, %customize clauses and
the %viz request reader all agree on what is quoted.

A quote character opens a quoted span only when the same character closes it later; a quote
that is never closed ("what's the trend") and an apostrophe inside a word ("Bob's chart",
"don't") are plain characters. So `--title 'Bob's chart'` is one argument, and
`title what's new and log y` is still two %customize clauses.
"""
from __future__ import annotations

#: Quote characters of magic arguments (shell-like).
ARGUMENT_QUOTES = "'\""
#: Quote characters of text inside a request or instruction (backticks name columns).
TEXT_QUOTES = "'\"`"


def _inside_word(text: str, i: int) -> bool:
    """An apostrophe between two letters or digits (what's, don't) is part of the word."""
    return text[i] == "'" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()


def _closing(text: str, i: int) -> int | None:
    """Where the quote opened at `i` closes, or None when it never does."""
    j = text.find(text[i], i + 1)
    while j != -1 and _inside_word(text, j):
        j = text.find(text[i], j + 1)
    return None if j == -1 else j


def quoted_spans(text: str, quotes: str = TEXT_QUOTES) -> list[tuple[int, int]]:
    """(start, end) of every quoted span of `text`, quote characters included, in order."""
    spans, i = [], 0
    while i < len(text):
        if text[i] in quotes and not _inside_word(text, i):
            close = _closing(text, i)
            if close is not None:
                spans.append((i, close + 1))
                i = close + 1
                continue
        i += 1
    return spans


def split_words(line: str, quotes: str = ARGUMENT_QUOTES) -> list[str]:
    """Whitespace separates words, quoted spans group them (their quotes removed; `''` is an
    empty word); anything else, unbalanced quotes included, is kept as typed."""
    words, current, has_word = [], [], False
    spans = iter(quoted_spans(line, quotes))
    span = next(spans, None)
    i = 0
    while i < len(line):
        if span and i == span[0]:
            current.append(line[span[0] + 1:span[1] - 1])
            has_word, i, span = True, span[1], next(spans, None)
            continue
        if line[i].isspace():
            if has_word or current:
                words.append("".join(current))
            current, has_word = [], False
        else:
            current.append(line[i])
        i += 1
    if has_word or current:
        words.append("".join(current))
    return words


def outside_quotes(text: str, quotes: str = TEXT_QUOTES) -> list[bool]:
    """For each character of `text`: True when it is outside every quoted span."""
    mask = [True] * len(text)
    for start, end in quoted_spans(text, quotes):
        mask[start:end] = [False] * (end - start)
    return mask
