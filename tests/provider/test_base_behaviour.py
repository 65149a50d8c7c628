"""Every validation rule and helper of the contract, with the seed's exact messages."""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import UTC, datetime

import pytest

import anibridge.provider.base as base_module
from anibridge.provider.base import (
    Account,
    Artwork,
    BackupArtifact,
    Capabilities,
    Descriptor,
    Event,
    ExternalId,
    FieldSpec,
    Node,
    NumericConstraint,
    Page,
    Progress,
    ProgressConstraint,
    Provider,
    Record,
    RecordField,
    Ref,
    State,
    Status,
    Step,
    TemporalConstraint,
    TemporalPrecision,
    TextConstraint,
    Titles,
)

LOG = logging.getLogger("test")


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


# -- NumericConstraint ----------------------------------------------------------------


@pytest.mark.parametrize("step", [0, -1, -0.5])
def test_numeric_step_must_be_positive(step):
    with pytest.raises(ValueError, match=exact("NumericConstraint.step must be > 0")):
        NumericConstraint(step=step)


def test_numeric_minimum_must_not_exceed_maximum():
    with pytest.raises(
        ValueError,
        match=exact("NumericConstraint.minimum must be <= NumericConstraint.maximum"),
    ):
        NumericConstraint(minimum=10, maximum=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"minimum": 1, "maximum": 1},
        {"minimum": 0, "maximum": 10, "step": 0.5},
        {"minimum": 5},
        {"maximum": -5},
        {"step": 0.001},
    ],
)
def test_numeric_valid_constraints(kwargs):
    constraint = NumericConstraint(**kwargs)
    for key, value in kwargs.items():
        assert getattr(constraint, key) == value


def test_numeric_step_checked_before_range():
    with pytest.raises(ValueError, match="step"):
        NumericConstraint(minimum=10, maximum=1, step=0)


# -- TextConstraint -------------------------------------------------------------------


def test_text_max_length_must_not_be_negative():
    with pytest.raises(
        ValueError, match=exact("TextConstraint.max_length must be >= 0")
    ):
        TextConstraint(max_length=-1)


@pytest.mark.parametrize("length", [None, 0, 1, 5000])
def test_text_valid(length):
    assert TextConstraint(length).max_length == length


# -- BackupArtifact -------------------------------------------------------------------


@pytest.mark.parametrize("extension", ["json", "", "zip.", "tar.gz"])
def test_backup_extension_needs_leading_dot(extension):
    with pytest.raises(
        ValueError, match=exact("BackupArtifact.file_extension must start with '.'")
    ):
        BackupArtifact(b"{}", file_extension=extension)


def test_backup_defaults():
    artifact = BackupArtifact(b"x")
    assert (artifact.file_extension, artifact.media_type) == (".json", None)
    assert (
        BackupArtifact(b"x", ".tar.gz", "application/gzip").file_extension == ".tar.gz"
    )


# -- FieldSpec ------------------------------------------------------------------------

ACTIVE = Descriptor("CURRENT", Status.ACTIVE)
DONE = Descriptor("COMPLETED", Status.COMPLETED)


@pytest.mark.parametrize(
    "record_field", [f for f in RecordField if f != RecordField.STATUS]
)
def test_values_only_for_status(record_field):
    with pytest.raises(
        ValueError, match=exact("FieldSpec.values is only valid for RecordField.STATUS")
    ):
        FieldSpec(record_field, values=(ACTIVE,))


@pytest.mark.parametrize(
    ("readable", "writable"), [(True, False), (False, True), (True, True)]
)
def test_readable_or_writable_status_needs_values(readable, writable):
    with pytest.raises(
        ValueError, match=exact("STATUS fields must declare supported native values")
    ):
        FieldSpec(RecordField.STATUS, readable=readable, writable=writable)


def test_status_that_is_neither_readable_nor_writable_needs_no_values():
    spec = FieldSpec(RecordField.STATUS, readable=False, writable=False)
    assert spec.values == ()


def test_status_values_must_have_a_semantic():
    with pytest.raises(
        ValueError, match=exact("STATUS field values must map to a normalized Status")
    ):
        FieldSpec(RecordField.STATUS, values=(ACTIVE, Descriptor("CUSTOM")))


def test_status_native_values_must_be_unique():
    with pytest.raises(
        ValueError, match=exact("duplicate STATUS native value: 'CURRENT'")
    ):
        FieldSpec(
            RecordField.STATUS,
            values=(ACTIVE, Descriptor("CURRENT", Status.REPEATING)),
        )


def test_duplicate_native_rejected_even_when_not_writable():
    with pytest.raises(ValueError, match="duplicate STATUS native value"):
        FieldSpec(RecordField.STATUS, writable=False, values=(ACTIVE, ACTIVE))


def test_writable_status_semantics_must_be_unique():
    with pytest.raises(
        ValueError,
        match=exact(f"duplicate writable STATUS semantic: {Status.ACTIVE!r}"),
    ):
        FieldSpec(
            RecordField.STATUS,
            writable=True,
            values=(ACTIVE, Descriptor("WATCHING", Status.ACTIVE)),
        )


def test_read_only_status_may_map_two_natives_to_one_semantic():
    spec = FieldSpec(
        RecordField.STATUS, values=(ACTIVE, Descriptor("WATCHING", Status.ACTIVE))
    )
    assert len(spec.values) == 2


def test_semantic_checked_before_duplicates():
    with pytest.raises(ValueError, match="must map to a normalized Status"):
        FieldSpec(RecordField.STATUS, values=(Descriptor("X"), Descriptor("X")))


@pytest.mark.parametrize(
    "constraints",
    [
        (NumericConstraint(), NumericConstraint(minimum=1)),
        (TextConstraint(), TextConstraint(5)),
        (
            TemporalConstraint(TemporalPrecision.DATE),
            TemporalConstraint(TemporalPrecision.DATETIME),
        ),
        (ProgressConstraint(), NumericConstraint(), ProgressConstraint(total=False)),
    ],
)
def test_duplicate_constraint_types_rejected(constraints):
    name = type(constraints[-1]).__name__
    with pytest.raises(
        ValueError, match=exact(f"duplicate field constraint type: {name}")
    ):
        FieldSpec(RecordField.PROGRESS, constraints=constraints)


def test_distinct_constraint_types_accepted():
    spec = FieldSpec(
        RecordField.RATING,
        writable=True,
        constraints=(NumericConstraint(0, 10, 1), TextConstraint(3)),
    )
    assert spec.writable and spec.readable and spec.description is None


def test_valid_writable_status():
    spec = FieldSpec(RecordField.STATUS, writable=True, values=(ACTIVE, DONE))
    assert [d.semantic for d in spec.values] == [Status.ACTIVE, Status.COMPLETED]


# -- ExternalId -----------------------------------------------------------------------


def test_external_id_parse_two_and_three_fields():
    assert ExternalId.parse("anilist:1") == ExternalId("anilist", "1")
    assert ExternalId.parse("tvdb_show:81797:s1") == ExternalId(
        "tvdb_show", "81797", "s1"
    )
    assert ExternalId.parse("a::") == ExternalId("a", "", "")


@pytest.mark.parametrize("text", ["anilist", "", "a:b:c:d", "tvdb:1:s1:e2"])
def test_external_id_parse_rejects(text):
    with pytest.raises(ValueError, match=exact(f"not a valid descriptor: {text!r}")):
        ExternalId.parse(text)


@pytest.mark.parametrize("text", ["anilist:1", "tvdb_show:81797:s1", "imdb:tt0213338"])
def test_external_id_descriptor_and_repr_round_trip(text):
    parsed = ExternalId.parse(text)
    assert parsed.descriptor == text
    assert repr(parsed) == text
    assert ExternalId.parse(parsed.descriptor) == parsed


def test_parse_is_a_classmethod_that_respects_subclasses():
    assert isinstance(ExternalId.parse("a:b"), ExternalId)


# -- Ref ------------------------------------------------------------------------------


def test_ref_anchor_and_at():
    assert Ref.anchor("show") == Ref("show") == Ref("show", ())
    ref = Ref.at("show", ("season", 1), ("episode", 3))
    assert ref.path == (Step("season", 1), Step("episode", 3))
    assert Ref.at("show") == Ref("show")


def test_ref_child_and_is_anchor():
    anchor = Ref.anchor("show")
    assert anchor.is_anchor
    child = anchor.child("season", 1).child("episode", "3b")
    assert child == Ref.at("show", ("season", 1), ("episode", "3b"))
    assert not child.is_anchor
    assert anchor.path == ()  # child does not mutate


def test_ref_repr():
    assert repr(Ref("show")) == "show"
    assert (
        repr(Ref.at("show", ("season", 1), ("episode", 3))) == "show:season=1,episode=3"
    )
    assert repr(Ref.at("k", ("chapter", "x"))) == "k:chapter=x"


def test_refs_hash_by_value():
    assert len({Ref.at("a", ("e", 1)), Ref("a").child("e", 1), Ref("a")}) == 2
    assert Ref.at("a", ("e", 1)) != Ref.at("a", ("e", "1"))


# -- Artwork, Titles ------------------------------------------------------------------


def test_artwork_poster():
    assert Artwork().poster is None
    assert Artwork({"poster": "p.jpg", "banner": "b.jpg"}).poster == "p.jpg"
    assert Artwork({"banner": "b.jpg"}).poster is None


# -- Provider -------------------------------------------------------------------------


class Minimal(Provider):
    DISPLAY_NAME = "Minimal"
    NAMESPACE = "minimal"

    def account(self):
        return None


def test_provider_requires_account_implementation():
    with pytest.raises(TypeError):
        Provider(logger=LOG)  # type: ignore[abstract]


def test_provider_init_keyword_only_and_copies_config():
    config = {"token": "x"}
    provider = Minimal(logger=LOG, config=config)
    assert provider.log is LOG
    assert provider.config == config and provider.config is not config
    config["token"] = "changed"
    assert provider.config == {"token": "x"}
    assert Minimal(logger=LOG).config == {}
    with pytest.raises(TypeError):
        Minimal(LOG)  # type: ignore[misc]


async def test_provider_defaults():
    provider = Minimal(logger=LOG)
    assert await provider.initialize() is None
    assert await provider.clear_cache() is None
    assert await provider.close() is None
    assert provider.account() is None
    assert provider.capabilities() == Capabilities()
    caps = provider.capabilities()
    assert caps.roles == frozenset() and caps.record_fields == {}


# -- immutability, equality, hashing --------------------------------------------------

SAMPLES = [
    Ref("a"),
    ExternalId("anilist", "1"),
    NumericConstraint(0, 10, 1),
    Account("k", "t"),
    Titles("x"),
    Node(Ref("a"), "show"),
    Record(Ref("a")),
    Event(Ref("a"), "play", datetime(2024, 1, 1, tzinfo=UTC)),
    Page(items=()),
    Capabilities(),
    FieldSpec(RecordField.NOTES),
    State("CURRENT", Status.ACTIVE),
    Progress(3),
]


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_known_attribute_assignment_raises_attribute_error(obj):
    name = dataclasses.fields(obj)[0].name
    with pytest.raises(AttributeError):
        setattr(obj, name, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, name, "x")
    with pytest.raises(AttributeError):
        delattr(obj, name)


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_unknown_attribute_assignment_raises_attribute_error(obj):
    with pytest.raises(AttributeError):
        obj.not_a_field = 1  # type: ignore[attr-defined]
    assert not hasattr(obj, "not_a_field")
    assert not hasattr(obj, "__dict__")


def test_equality_and_hashing_by_value():
    assert ExternalId("a", "1") == ExternalId.parse("a:1")
    assert hash(ExternalId("a", "1", "s1")) == hash(ExternalId.parse("a:1:s1"))
    assert State("X", Status.PAUSED) == State("X", Status.PAUSED)
    assert Progress(1, 12, "episode") != Progress(1, 12, "chapter")
    assert (
        len({Descriptor("show"), Descriptor("show"), Descriptor("show", None, "d")})
        == 2
    )
    assert NumericConstraint(0, 1) == NumericConstraint(minimum=0, maximum=1)


def test_objects_with_mapping_fields_are_not_hashable():
    # Frozen dataclasses hash their fields; a dict field makes hashing fail loudly
    # rather than silently (the seed's behaviour, which ours keeps).
    with pytest.raises(TypeError):
        hash(Record(Ref("a")))
    assert hash(Event(Ref("a"), "play", datetime(2024, 1, 1, tzinfo=UTC), metadata=()))


def test_replace_builds_a_new_object():
    record = Record(Ref("a"), values={RecordField.NOTES: "x"})
    changed = dataclasses.replace(record, kind="watchlist")
    assert record.kind == "" and changed.kind == "watchlist"


ALL_DATACLASSES = [
    getattr(base_module, name)
    for name in base_module.__all__
    if dataclasses.is_dataclass(getattr(base_module, name))
]


@pytest.mark.parametrize("cls", ALL_DATACLASSES, ids=lambda c: c.__name__)
def test_every_dataclass_refuses_mutation_with_attribute_error(cls):
    obj = object.__new__(cls)  # no __init__: only the class's guards are exercised
    first = dataclasses.fields(cls)[0].name
    for name in (first, "undeclared_attribute"):
        with pytest.raises(AttributeError):
            setattr(obj, name, 1)
        with pytest.raises(AttributeError):
            delattr(obj, name)
