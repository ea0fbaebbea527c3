"""cratedigger/library."""
