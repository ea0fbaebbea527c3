"""Issue 14 item 1: a long recording is heard by three of madmom's eight downbeat networks, so its
analysis runs about twice as fast, and still finds the record's tempo."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cratedigger.analysis import Analyzer, _madmom, backends
from drum_audio import real_break


def _record(seconds: float, sample_rate: int = 44100) -> np.ndarray:
    loop = real_break(sample_rate, repeats=4)
    return np.tile(loop, int(np.ceil(seconds * sample_rate / loop.size)))[: int(seconds * sample_rate)]


def test_the_smaller_ensemble_is_a_slice_of_madmoms_own():
    networks = lambda processor: len(processor.processors[1].processors[0].processors)  # noqa: E731
    assert networks(_madmom.downbeat_network(1)) == 1 and networks(_madmom.downbeat_network()) == 8
    assert _madmom.downbeat_network().__class__.__name__ == "RNNDownBeatProcessor"
    with pytest.raises(ValueError):
        _madmom.downbeat_network(9)


def test_a_long_record_uses_the_long_ensemble_and_a_clip_the_whole_one(monkeypatch):
    asked = []
    real = _madmom.downbeat_activations
    monkeypatch.setattr(_madmom, "downbeat_activations", lambda mono, networks=8: asked.append(networks) or real(mono, networks))
    analyzer = Analyzer(backend="madmom")
    short = analyzer.analyze(_record(8.0), sample_rate=44100)
    assert set(asked) == {_madmom.ENSEMBLE}
    asked.clear()
    long = analyzer.analyze(_record(75.0), sample_rate=44100)
    assert set(asked) == {backends.LONG_NETWORKS} and len(asked) == 2  # two 60 s chunks
    assert short.bpm is not None and long.bpm is not None
    assert abs(long.bpm - short.bpm) / short.bpm < 0.02  # the same break read at the same tempo


def test_the_long_ensemble_is_about_half_the_cost_of_eight():
    mono = _record(30.0)
    few = backends.LONG_NETWORKS
    _madmom.downbeat_activations(mono[:44100], few), _madmom.downbeat_activations(mono[:44100])  # load both
    cost = {}
    for networks in (few, 8, few, 8):  # interleaved; CPU time, so a busy machine does not skew it
        start = time.process_time()
        _madmom.downbeat_activations(mono, networks)
        cost.setdefault(networks, []).append(time.process_time() - start)
    ratio = min(cost[8]) / min(cost[few])
    assert ratio > 1.7, f"{few} networks cost 1/{ratio:.2f} of eight"
