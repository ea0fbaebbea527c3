"""cratedigger/cli."""
