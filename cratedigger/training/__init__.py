"""cratedigger/training."""
