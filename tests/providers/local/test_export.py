from __future__ import annotations

from datetime import UTC, datetime

from anibridge.provider.base import (
    FacetName,
    Identifiers,
    Node,
    NodeFlag,
    Part,
    Progress,
    Rating,
    Record,
    RecordField,
    Ref,
    State,
    Status,
    Step,
    Structure,
)
from anibridge.provider.testing import make_list_provider
from anibridge.providers.local import dump_document
from anibridge.providers.local.export import export_provider_state


def _strip(doc: dict) -> dict:
    doc = {k: v for k, v in doc.items() if k not in ("exported_from", "account")}
    for item in doc["items"]:
        for holder in [item, *item.get("seasons", [])]:
            holder.get("record", {}).pop("updated_at", None)
            holder.get("record", {}).pop("revision", None)
            for ep in (
                holder.get("episodes", [])
                if isinstance(holder.get("episodes"), list)
                else []
            ):
                ep.get("record", {}).pop("updated_at", None)
                ep.get("record", {}).pop("revision", None)
    return doc


async def test_local_library_round_trips_through_the_generic_exporter(
    library, tmp_path, make_local
):
    exported = await export_provider_state(library)
    assert exported["exported_from"] == "local"
    bebop = next(i for i in exported["items"] if i["key"] == "bebop")
    assert bebop["ids"] == ["tvdb_show:76885", "tmdb_show:30991"]
    assert [s["season"] for s in bebop["seasons"]] == [0, 1]
    copy = make_local(tmp_path / "copy.sqlite")
    await copy.initialize()
    copy.import_document(dump_document(exported, fmt="yaml"), where="export")
    assert _strip(copy.export_document()) == _strip(library.export_document())
    await copy.close()


async def test_any_provider_list_exports_to_the_local_format(tmp_path, make_local):
    node = Node(
        Ref("21"),
        "anime",
        title="One Piece",
        flags=frozenset({NodeFlag.ANCHOR, NodeFlag.TRACKABLE}),
        facets={
            FacetName.IDS: Identifiers(()),
            FacetName.STRUCTURE: Structure(
                ("episode",), tuple(Part((Step("episode", n),)) for n in range(1, 13))
            ),
        },
    )
    record = Record(
        Ref("21"),
        updated_at=datetime(2025, 1, 1, tzinfo=UTC),
        values={
            RecordField.STATUS: State("PAUSED", Status.PAUSED),
            RecordField.PROGRESS: Progress(7, 12),
            RecordField.RATING: Rating(80.0, (0.0, 100.0, 1.0)),
            RecordField.STARTED_AT: datetime(2024, 3, 5, tzinfo=UTC),
        },
    )
    provider = make_list_provider([node], [record])
    await provider.initialize()
    exported = await export_provider_state(provider)
    (item,) = exported["items"]
    assert item["kind"] == "series" and item["episodes"] == 12
    assert item["record"]["status"] == "paused"
    assert item["record"]["progress"] == 7
    assert item["record"]["rating"] == 80
    assert item["record"]["started_at"] == "2024-03-05"
    local = make_local(tmp_path / "l.sqlite", rating_scale=[0, 10, 0.5])
    await local.initialize()
    local.import_document(dump_document(exported, fmt="json"), where="export")
    (imported,) = local.export_document()["items"]
    assert imported["record"]["rating"] == 8  # converted from the 0-100 scale
    await local.close()
