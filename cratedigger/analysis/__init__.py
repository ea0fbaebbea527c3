"""Tempo, beats, downbeats and meter of drum breaks (madmom main backend, librosa fallback).

    from cratedigger.analysis import analyze
    result = analyze(audio, sample_rate=22050)      # audio float32 [n] or [n, ch]
    result.bpm, result.beats, result.downbeats      # BPM (None when none found), seconds
    result, info = analyze_file(path)               # any length, in bounded memory

The madmom backend uses madmom's trained networks, which are licensed CC BY-NC-SA 4.0
(non-commercial, share-alike); the librosa backend has no such restriction.
"""

from cratedigger.analysis.analyzer import BACKENDS, Analyzer, analyze, analyze_file
from cratedigger.analysis.grid import GridParams
from cratedigger.analysis.result import AnalysisResult

__all__ = ["BACKENDS", "AnalysisResult", "Analyzer", "GridParams", "analyze", "analyze_file"]
