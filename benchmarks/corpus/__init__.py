"""Scripts that build the analysis evaluation corpus (audio is generated, never committed)."""
