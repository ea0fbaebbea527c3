"""CrateDigger's desktop app (installed as `cratedigger_ui`): a thin Qt layer over the `cratedigger` engine."""
