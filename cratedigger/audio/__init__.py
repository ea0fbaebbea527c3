"""Audio file I/O and small DSP helpers shared by the engine."""
