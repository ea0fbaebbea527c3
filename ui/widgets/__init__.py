"""The app's widgets: detail view, generate panel, browser filters, entry lists, tag editor, transport."""
