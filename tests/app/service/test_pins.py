"""Pins use case: validation and merge/replace, on the in-memory and SQL stores."""

from __future__ import annotations

import pytest

from anibridge.app.service.errors import InvalidInput, NotFound, ServiceError
from anibridge.app.service.pins import clear_pins, list_pins, set_pins
from anibridge.bridge.stores import MemoryStores
from anibridge.store import SqlStore


@pytest.fixture(params=["memory", "sql"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStores().bundle().pins
        return
    sql = SqlStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield sql
    sql.close()


def test_set_merges_and_pins_the_anchor_of_a_part_ref(store):
    set_pins(store, "p", "list", "anilist:21", ["progress"], providers={"list"})
    view = set_pins(store, "p", "list", "anilist:21/episode:3", ["Rating"])
    assert (view.ref, view.fields) == ("anilist:21", ("progress", "rating"))
    assert [v.to_json() for v in list_pins(store, "p")] == [
        {"provider": "list", "ref": "anilist:21", "fields": ["progress", "rating"]}
    ]
    assert list_pins(store, "other") == []


def test_replace_with_no_fields_unpins(store):
    set_pins(store, "p", "list", "anilist:21", ["status", "rating"])
    set_pins(store, "p", "list", "anilist:21", ["status"], merge=False)
    assert list_pins(store, "p")[0].fields == ("status",)
    set_pins(store, "p", "list", "anilist:21", [], merge=False)
    assert list_pins(store, "p") == []


def test_unknown_field_and_provider_are_refused_with_what_is_allowed(store):
    with pytest.raises(
        InvalidInput, match=r"unknown field\(s\) colour; pinnable: .*rating"
    ):
        set_pins(store, "p", "list", "anilist:21", ["colour"])
    with pytest.raises(InvalidInput, match=r"has no provider 'lst' .*: list, plex"):
        set_pins(
            store, "p", "lst", "anilist:21", ["status"], providers={"list", "plex"}
        )
    with pytest.raises(InvalidInput, match="needs a target ref"):
        set_pins(store, "p", "list", " ", ["status"])
    assert list_pins(store, "p") == []


def test_clear_says_what_was_pinned_or_that_nothing_was(store):
    assert clear_pins(store, "p", "list", "anilist:21") is None
    set_pins(store, "p", "list", "anilist:21", ["status"])
    before = clear_pins(store, "p", "list", "anilist:21")
    assert before is not None and before.fields == ("status",)
    assert list_pins(store, "p") == []


def test_errors_carry_their_front_end_codes():
    assert (InvalidInput("x").status, NotFound("x").status) == (400, 404)
    assert ServiceError("x", status=422).status == 422
    assert str(NotFound("no plan 'a'")) == "no plan 'a'"
