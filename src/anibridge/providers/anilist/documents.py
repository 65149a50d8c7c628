"""Every GraphQL document the AniList provider sends, in one place.

Static documents are constants; batched mutations and keyed lookups are built from
per-item argument dicts with one variable per argument, so values never get spliced
into the document text. `sample_documents()` yields one instance of every shape the
provider can produce, which the tests validate against AniList's schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = [
    "CHANGES",
    "COLLECTION",
    "PAGES_PER_REQUEST",
    "SAVE_ARG_TYPES",
    "SEARCH",
    "VIEWER",
    "delete_batch",
    "entries_by_key",
    "entries_by_media",
    "media_by_id",
    "resolve",
    "sample_documents",
    "save_batch",
]

MEDIA_FIELDS = """
fragment MediaFields on Media {
  id
  idMal
  format
  episodes
  siteUrl
  title { userPreferred romaji english native }
}
"""

ENTRY_FIELDS = (
    """
fragment EntryFields on MediaList {
  id
  mediaId
  status
  score
  rawScore: score(format: POINT_100)
  progress
  repeat
  priority
  private
  notes
  hiddenFromStatusLists
  customLists
  startedAt { year month day }
  completedAt { year month day }
  updatedAt
  media { ...MediaFields }
}
"""
    + MEDIA_FIELDS
)

SAVED_FIELDS = """
fragment SavedFields on MediaList {
  id
  mediaId
  status
  updatedAt
}
"""

VIEWER = """
query Viewer {
  Viewer {
    id
    name
    siteUrl
    mediaListOptions { scoreFormat animeList { customLists } }
  }
}
"""

COLLECTION = (
    """
query Collection($userId: Int!, $chunk: Int!, $perChunk: Int!) {
  MediaListCollection(
    userId: $userId, type: ANIME, chunk: $chunk, perChunk: $perChunk
  ) {
    hasNextChunk
    lists { name isCustomList status entries { ...EntryFields } }
  }
}
"""
    + ENTRY_FIELDS
)

SEARCH = (
    """
query Search($search: String!, $perPage: Int!) {
  Page(page: 1, perPage: $perPage) {
    media(search: $search, type: ANIME) { ...MediaFields }
  }
}
"""
    + MEDIA_FIELDS
)

CHANGES = """
query Changes($userId: Int!, $page: Int!, $perPage: Int!) {
  Page(page: $page, perPage: $perPage) {
    pageInfo { hasNextPage }
    mediaList(userId: $userId, type: ANIME, sort: [UPDATED_TIME_DESC]) {
      id
      mediaId
      updatedAt
    }
  }
}
"""

#: GraphQL types of the `SaveMediaListEntry` arguments the provider sends.
SAVE_ARG_TYPES: Mapping[str, str] = {
    "mediaId": "Int",
    "status": "MediaListStatus",
    "score": "Float",
    "scoreRaw": "Int",
    "progress": "Int",
    "repeat": "Int",
    "priority": "Int",
    "private": "Boolean",
    "notes": "String",
    "hiddenFromStatusLists": "Boolean",
    "customLists": "[String]",
    "startedAt": "FuzzyDateInput",
    "completedAt": "FuzzyDateInput",
}


def save_batch(items: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """One mutation saving every item under aliases ``e0``, ``e1``, ...

    Returns:
        The document and its variables.

    Raises:
        ValueError: an item has an argument the provider does not send.
    """
    definitions: list[str] = []
    fields: list[str] = []
    variables: dict[str, Any] = {}
    for index, args in enumerate(items):
        parts = []
        for name, value in args.items():
            if name not in SAVE_ARG_TYPES:
                raise ValueError(f"SaveMediaListEntry has no argument {name!r}")
            var = f"{name}{index}"
            definitions.append(f"${var}: {SAVE_ARG_TYPES[name]}")
            parts.append(f"{name}: ${var}")
            variables[var] = value
        fields.append(
            f"  e{index}: SaveMediaListEntry({', '.join(parts)}) {{ ...SavedFields }}"
        )
    head = (
        f"mutation SaveEntries({', '.join(definitions)})"
        if definitions
        else "mutation SaveEntries"
    )
    return head + " {\n" + "\n".join(fields) + "\n}\n" + SAVED_FIELDS, variables


#: Aliased `Page` blocks per lookup request (50 ids each; AniList caps a page at 50).
PAGES_PER_REQUEST = 4


def _paged(
    groups: Sequence[Sequence[int]], head: str, field: str, extra: str = ""
) -> tuple[str, dict[str, Any]]:
    definitions = [extra] if extra else []
    blocks = []
    variables: dict[str, Any] = {}
    for i, ids in enumerate(groups):
        definitions.append(f"$ids{i}: [Int]")
        blocks.append(
            f"  p{i}: Page(page: 1, perPage: 50) {{ {field.format(var=f'$ids{i}')} }}"
        )
        variables[f"ids{i}"] = list(ids)
    body = "\n".join(blocks)
    return f"query {head}({', '.join(definitions)}) {{\n{body}\n}}\n", variables


def entries_by_media(groups: Sequence[Sequence[int]]) -> tuple[str, dict[str, Any]]:
    """The viewer's entries for media ids, one aliased Page (``p0``...) per group.

    Returns:
        The document and its variables (``userId`` still to be added).
    """
    query, variables = _paged(
        groups,
        "EntriesByMedia",
        "mediaList(userId: $userId, type: ANIME, mediaId_in: {var}) "
        "{{ ...EntryFields }}",
        "$userId: Int!",
    )
    return query + ENTRY_FIELDS, variables


def media_by_id(groups: Sequence[Sequence[int]]) -> tuple[str, dict[str, Any]]:
    """Media by id, one aliased Page (``p0``...) per group of at most 50 ids.

    Returns:
        The document and its variables.
    """
    query, variables = _paged(
        groups, "MediaById", "media(id_in: {var}, type: ANIME) {{ ...MediaFields }}"
    )
    return query + MEDIA_FIELDS, variables


def resolve(
    pages: Sequence[tuple[str, Sequence[int]]],
) -> tuple[str, dict[str, Any]]:
    """Look media up by ``("anilist", ids)`` / ``("mal", ids)`` pages (``r0``...).

    Returns:
        The document and its variables.
    """
    definitions, blocks = [], []
    variables: dict[str, Any] = {}
    for i, (authority, ids) in enumerate(pages):
        argument = "id_in" if authority == "anilist" else "idMal_in"
        definitions.append(f"$ids{i}: [Int]")
        blocks.append(
            f"  r{i}: Page(page: 1, perPage: 50) "
            f"{{ media({argument}: $ids{i}, type: ANIME) {{ id idMal }} }}"
        )
        variables[f"ids{i}"] = list(ids)
    body = "\n".join(blocks)
    return f"query Resolve({', '.join(definitions)}) {{\n{body}\n}}\n", variables


def delete_batch(entry_ids: Sequence[int]) -> tuple[str, dict[str, Any]]:
    """One mutation deleting every entry under aliases ``d0``, ``d1``, ...

    Returns:
        The document and its variables.
    """
    definitions = ", ".join(f"$id{i}: Int" for i in range(len(entry_ids)))
    fields = "\n".join(
        f"  d{i}: DeleteMediaListEntry(id: $id{i}) {{ deleted }}"
        for i in range(len(entry_ids))
    )
    variables = {f"id{i}": entry_id for i, entry_id in enumerate(entry_ids)}
    return f"mutation DeleteEntries({definitions}) {{\n{fields}\n}}\n", variables


def entries_by_key(entry_ids: Sequence[int]) -> tuple[str, dict[str, Any]]:
    """One query reading list entries by entry id under aliases ``k0``, ``k1``, ...

    Returns:
        The document and its variables.
    """
    definitions = ", ".join(f"$id{i}: Int" for i in range(len(entry_ids)))
    fields = "\n".join(
        f"  k{i}: MediaList(id: $id{i}) {{ ...EntryFields }}"
        for i in range(len(entry_ids))
    )
    variables = {f"id{i}": entry_id for i, entry_id in enumerate(entry_ids)}
    return (
        f"query EntriesByKey({definitions}) {{\n{fields}\n}}\n" + ENTRY_FIELDS,
        variables,
    )


def sample_documents() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(name, document, variables)`` for every document shape the provider sends."""
    yield "viewer", VIEWER, {}
    yield "collection", COLLECTION, {"userId": 1, "chunk": 1, "perChunk": 500}
    query, variables = entries_by_media([[1, 2], [3]])
    yield "entries_by_media", query, {"userId": 1, **variables}
    yield ("media_by_id", *media_by_id([[1, 2], [3], [4], [5]]))
    yield ("resolve", *resolve([("anilist", [1, 2]), ("mal", [1]), ("mal", [2])]))
    yield "changes", CHANGES, {"userId": 1, "page": 1, "perPage": 50}
    yield "search", SEARCH, {"search": "bebop", "perPage": 10}
    every = {
        "mediaId": 1,
        "status": "CURRENT",
        "score": 7.5,
        "scoreRaw": 75,
        "progress": 3,
        "repeat": 1,
        "priority": 0,
        "private": False,
        "notes": "n",
        "hiddenFromStatusLists": False,
        "customLists": ["a"],
        "startedAt": {"year": 2020, "month": 1, "day": 2},
        "completedAt": {"year": None, "month": None, "day": None},
    }
    yield ("save_every_argument", *save_batch([every, {"mediaId": 2, "notes": ""}]))
    yield ("save_single", *save_batch([{"mediaId": 1, "status": "PLANNING"}]))
    yield ("delete", *delete_batch([1, 2, 3]))
    yield ("entries_by_key", *entries_by_key([1, 2]))
