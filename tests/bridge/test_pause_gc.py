"""Pausing the cyclic GC around planning restores exactly the state it found."""

from __future__ import annotations

import gc

import pytest

from anibridge.bridge.pause_gc import freeze_collected, paused_gc, thaw


@pytest.fixture
def gc_state():
    """Leave the interpreter's GC as the test found it, whatever the test did."""
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


@pytest.mark.usefixtures("gc_state")
def test_paused_inside_the_block_and_enabled_again_after():
    gc.enable()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("gc_state")
def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    with paused_gc():
        assert not gc.isenabled()
    assert not gc.isenabled()


@pytest.mark.usefixtures("gc_state")
def test_nested_blocks_re_enable_only_at_the_outermost():
    gc.enable()
    with paused_gc():
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("gc_state")
def test_restored_when_the_block_raises():
    gc.enable()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("planning failed")
    assert gc.isenabled()


@pytest.mark.usefixtures("gc_state")
def test_freeze_moves_live_objects_out_of_the_scans_and_thaw_returns_them():
    gc.unfreeze()
    keep = [[i] for i in range(100)]
    freeze_collected()
    assert gc.get_freeze_count() >= len(keep)
    thaw()
    assert gc.get_freeze_count() == 0
