from __future__ import annotations

import dataclasses

from anibridge.provider.base import (
    FieldSpec,
    NumericConstraint,
    Progress,
    Rating,
    RecordField,
    Ref,
    State,
    Status,
    TextConstraint,
)
from anibridge.provider.testing.contract import (
    KIT_TIME,
    default_record_write,
    default_sample_event,
)
from anibridge.provider.testing.memory import library_capabilities, list_capabilities


def test_default_write_fills_every_writable_field_within_constraints():
    caps = list_capabilities(rating_scale=(1.0, 10.0, 0.5), notes_max_length=5)
    write = default_record_write(caps, Ref("1"))
    assert write.ref == Ref("1") and write.kind == ""
    assert write.set == {
        RecordField.STATUS: State("CURRENT", Status.ACTIVE),
        RecordField.PROGRESS: Progress(1),
        RecordField.RATING: Rating(5.5, (1.0, 10.0, 0.5)),
        RecordField.STARTED_AT: KIT_TIME,
        RecordField.FINISHED_AT: KIT_TIME,
        RecordField.REPEAT_COUNT: 1,
        RecordField.NOTES: "AniBr",
    }


def test_default_write_skips_ratings_of_unknown_scale_and_read_only_fields():
    caps = list_capabilities()
    fields = dict(caps.record_fields)
    fields[RecordField.RATING] = FieldSpec(
        RecordField.RATING, writable=True, constraints=(NumericConstraint(0, 10),)
    )
    fields[RecordField.NOTES] = FieldSpec(
        RecordField.NOTES, writable=False, constraints=(TextConstraint(3),)
    )
    write = default_record_write(
        dataclasses.replace(caps, record_fields=fields), Ref("1")
    )
    assert RecordField.RATING not in write.set and RecordField.NOTES not in write.set
    assert default_record_write(library_capabilities(), Ref("x")).set == {}


def test_default_event_uses_first_declared_kind():
    event = default_sample_event(library_capabilities(), Ref("x"))
    assert (event.kind, event.at, event.ref) == ("play", KIT_TIME, Ref("x"))
    assert default_sample_event(list_capabilities(), Ref("x")) is None
