from __future__ import annotations

import pytest
from graphql import parse, validate

from anibridge.providers.anilist import documents
from anibridge.testing.fakes.anilist import anilist_schema

SAMPLES = list(documents.sample_documents())


@pytest.mark.parametrize(
    ("name", "source", "variables"), SAMPLES, ids=[s[0] for s in SAMPLES]
)
def test_every_document_is_valid_against_anilists_schema(name, source, variables):
    errors = validate(anilist_schema(), parse(source))
    assert errors == [], f"{name}: {errors}"


def test_the_schema_check_can_fail():
    errors = validate(anilist_schema(), parse("query { Viewer { id noSuchField } }"))
    assert errors


def test_save_batch_uses_one_variable_per_argument():
    source, variables = documents.save_batch(
        [{"mediaId": 1, "notes": 'a"b'}, {"mediaId": 2, "status": "PAUSED"}]
    )
    assert variables == {
        "mediaId0": 1,
        "notes0": 'a"b',
        "mediaId1": 2,
        "status1": "PAUSED",
    }
    assert "e0: SaveMediaListEntry" in source and "e1: SaveMediaListEntry" in source
    assert 'a"b' not in source
    with pytest.raises(ValueError, match="bogus"):
        documents.save_batch([{"bogus": 1}])


async def test_every_document_the_provider_sent_was_valid(fake, provider, catalog):
    # The fake validates at runtime too; an invalid document would be a 400.
    from anibridge.provider.base import (
        ChangeQuery,
        ExternalId,
        RecordQuery,
        Ref,
        ScanQuery,
    )

    await provider.scan(ScanQuery())
    await provider.fetch_records(
        RecordQuery(refs=(Ref.anchor(str(catalog[0].anilist_id)),), keys=("1",))
    )
    await provider.resolve([ExternalId("mal", str(catalog[0].mal_id))])
    await provider.poll_changes(ChangeQuery())
    assert fake.documents
    for source in fake.documents:
        assert validate(anilist_schema(), parse(source)) == []
    assert fake.statuses()[400] == 0
