"""Issue 13: one Loop value with its origin; Library.add_loop stores it in one commit."""

import numpy as np
import pytest

from cratedigger.library import Library
from cratedigger.loop import Loop, Origin, grid_beats
from library_helpers import click_loop

SR = 22050


def test_add_loop_stores_origin_as_source_with_rating_and_tags(tmp_path):
    audio = np.stack([click_loop(bpm=120, bars=1, sample_rate=SR)] * 2, axis=1)
    beats = grid_beats(bpm=120.0, n_beats=4)
    loop = Loop(audio=audio, sample_rate=SR, origin=Origin("extended", {"parent_name": "Dusty"}), bpm=120.0, bars=1,
                beats=beats, downbeats=beats[::4])
    with Library.open(tmp_path / "lib", analyzer=None) as lib:
        s = lib.add_loop(loop, name="Dusty +1", tags=["amen"], rating=4, favourite=True)
        assert (s.source, s.rating, s.favourite, s.tags, s.channels) == ("extended", 4, True, ("amen",), 2)
        assert s.provenance == {"parent_name": "Dusty"} and s.beats == beats
        assert [x.id for x in lib.query(sources=("extended",))] == [s.id]


def test_an_unknown_origin_is_one_clear_error():
    from cratedigger.errors import BadParameterError

    with pytest.raises(BadParameterError, match="unknown origin 'made up'"):
        Origin("made up")


@pytest.mark.parametrize("first", [float("nan"), float("inf"), "0.5", True])
def test_a_grid_with_beat_one_not_a_time_is_one_clear_error(first):
    from cratedigger.errors import BadParameterError
    from cratedigger.regrid import steady_grid

    with pytest.raises(BadParameterError, match="beat 1 must be a time in seconds"):
        steady_grid(bpm=120.0, duration=4.0, first_downbeat=first)
