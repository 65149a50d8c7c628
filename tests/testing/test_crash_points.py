"""The soak's choice of kill points from a reference trace (no processes run)."""

from __future__ import annotations

from anibridge.testing.crash import Reference, _spaced, choose_points


def test_spaced_indexes_run_from_the_first_to_the_last():
    assert _spaced(8, 1) == [4]
    assert _spaced(8, 2) == [1, 8]
    assert _spaced(8, 4) == [1, 3, 6, 8]
    assert _spaced(3, 4) == [1, 2, 3]
    assert _spaced(0, 2) == []


def test_points_cover_creation_seeding_and_every_stage_of_the_batches():
    trace = ["local.create", "local.seeded", "local.create", "local.seeded"]
    for _ in range(6):
        trace += ["journal.intent", *["local.write"] * 5]
        trace += ["write.answered", "journal.outcome"]
    ref = Reference(pristine=[], synced=[1], trace=trace, applied=30)
    points = choose_points(ref, object(), 40)
    rules = [p.rule for p in points]
    assert len(rules) == len(set(rules))  # no point twice
    assert rules[:5] == [
        "kill@local.create#1",
        "kill@local.create#2",
        "kill@local.seeded#1",
        "kill@local.seeded#2",
        "kill@journal.intent#1",
    ]
    for name in ("write.answered", "journal.outcome", "journal.intent", "local.write"):
        assert any(r.startswith(f"kill@{name}#") for r in rules), name
    assert "kill@local.write#30" in rules  # the last write of the last batch
    few = choose_points(ref, object(), 8)
    assert len(few) == 8
    assert {p.rule for p in few} <= set(rules)


def test_trakt_points_keep_requests_in_flight_and_late_applies(tmp_path):
    from anibridge.testing.crash import TraktTarget

    trace = ["local.create", "local.seeded"]
    trace += ["journal.intent", "write.answered", "journal.outcome"] * 8
    ref = Reference([], [1], trace, applied=300, history_posts=8)
    target = TraktTarget.__new__(TraktTarget)  # no fake needed to choose points
    points = choose_points(ref, target, 12)
    assert len(points) == 12
    names = [p.name for p in points]
    assert sum(p.inflight > 0 and p.lands for p in points) == 2
    assert sum(p.inflight > 0 and not p.lands for p in points) == 2
    assert sum(p.late > 0 for p in points) == 1
    assert "local.create#1" in names and len(set(names)) == 12
