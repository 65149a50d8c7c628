from __future__ import annotations

import pytest

from anibridge.provider.base import Ref
from anibridge.providers._lists import FeedPosition, number_option, page_refs


def test_feed_position_round_trips_and_refuses_garbage():
    position = FeedPosition(10, frozenset({"a", "b"}))
    assert FeedPosition.decode(position.encode(), provider="x") == position
    with pytest.raises(ValueError, match="x: not a change cursor"):
        FeedPosition.decode("nope", provider="x")


def test_same_second_changes_are_reported_once_each():
    start = FeedPosition(10, frozenset({"a"}))
    assert not start.is_new(10, "a")
    assert start.is_new(10, "b") and start.is_new(11, "a")
    assert start.is_past(9) and not start.is_past(10)
    rows = [(11, "c"), (10, "b"), (11, "a")]
    first = FeedPosition.oldest_first(rows, limit=2)
    assert first == [(10, "b"), (11, "a")]
    after = start.after(first)
    assert after == FeedPosition(11, frozenset({"a"}))
    # The row cut off by the limit is still new for the next poll.
    assert after.is_new(11, "c") and not after.is_new(11, "a")


def test_after_keeps_ids_when_the_second_does_not_move():
    start = FeedPosition(10, frozenset({"a"}))
    assert start.after([(10, "b")]) == FeedPosition(10, frozenset({"a", "b"}))
    assert start.after([]) is start


def test_number_option():
    assert number_option({}, "n", 5, provider="p", low=1) == 5
    assert number_option({"n": "7"}, "n", 5, provider="p", low=1) == 7
    assert (
        number_option({"n": 0.5}, "n", 1.0, provider="p", low=0.1, integer=False) == 0.5
    )
    for bad in ("x", 0, True, 99):
        with pytest.raises(ValueError, match=r"p\.n must be an integer 1-50"):
            number_option({"n": bad}, "n", 5, provider="p", low=1, high=50)


def test_page_refs():
    refs = tuple(Ref.anchor(str(n)) for n in range(5))
    page, cursor = page_refs(refs, None, 2, provider="p")
    assert page == refs[:2] and cursor == "r:2"
    page, cursor = page_refs(refs, cursor, 2, provider="p")
    page, cursor = page_refs(refs, cursor, 2, provider="p")
    assert page == refs[4:] and cursor is None
    assert page_refs(refs, None, None, provider="p") == (refs, None)
    with pytest.raises(ValueError, match="p: not a ref-page cursor"):
        page_refs(refs, "x", 2, provider="p")
