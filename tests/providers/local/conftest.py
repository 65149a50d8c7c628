from __future__ import annotations

import logging
from pathlib import Path

import pytest

from anibridge.providers.local import LocalProvider

LIBRARY_DOC = """\
anibridge_local: 1
account: {key: tester, title: Test User}
items:
  - key: bebop
    kind: show
    title: Cowboy Bebop
    ids: [tvdb_show:76885, tmdb_show:30991]
    seasons:
      - season: 0
        episodes:
          - {episode: 1, title: Session XX}
      - season: 1
        title: Season 1
        episodes:
          - episode: 1
            title: Asteroid Blues
            record:
              status: completed
              repeat_count: 1
              last_activity_at: "2024-05-01T20:00:00Z"
            plays: ["2024-01-01T20:00:00Z", "2024-05-01T20:00:00Z"]
          - episode: 2
            title: Stray Dog Strut
            plays: [{at: "2024-01-02T20:00:00Z", metadata: {client: tv}}]
          - {episode: 3, title: Honky Tonk Women}
  - key: akira
    kind: movie
    title: Akira
    ids: [tmdb_movie:149]
    record: {status: completed, rating: 9}
    plays: ["2023-06-01T18:00:00+02:00"]
  - key: frieren
    kind: show
    title: Frieren
    ids: [tvdb_show:424536]
    seasons:
      - season: 1
        episodes: [{episode: 1}, {episode: 2}]
"""

LIST_DOC = """\
anibridge_local: 1
rating_scale: [0, 100, 1]
items:
  - key: "anilist:1"
    kind: series
    title: Cowboy Bebop
    ids: ["anilist:1", "mal:1"]
    episodes: 26
    record:
      {status: watching, progress: 3, rating: 85, started_at: 2024-01-01, notes: ok}
  - key: "anilist:1943"
    kind: film
    title: Paprika
    ids: ["anilist:1943"]
  - key: "anilist:154587"
    kind: series
    title: Frieren
    ids: ["anilist:154587"]
    episodes: 28
    record: {status: paused, progress: 10}
"""


def make(path: Path, **config) -> LocalProvider:
    return LocalProvider(
        logger=logging.getLogger("test.local"), config={"path": str(path), **config}
    )


@pytest.fixture
def make_local():
    return make


@pytest.fixture
def library_seed(tmp_path) -> Path:
    seed = tmp_path / "library.yaml"
    seed.write_text(LIBRARY_DOC)
    return seed


@pytest.fixture
def list_seed(tmp_path) -> Path:
    seed = tmp_path / "list.yaml"
    seed.write_text(LIST_DOC)
    return seed


@pytest.fixture
async def library(tmp_path, library_seed):
    provider = make(tmp_path / "library.sqlite", seed=str(library_seed))
    await provider.initialize()
    yield provider
    await provider.close()


@pytest.fixture
async def alist(tmp_path, list_seed):
    provider = make(
        tmp_path / "list.sqlite",
        seed=str(list_seed),
        authorities=["anilist"],
        rating_scale=[0, 100, 1],
        date_precision="date",
    )
    await provider.initialize()
    yield provider
    await provider.close()
