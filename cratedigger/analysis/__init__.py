"""cratedigger/analysis."""
