"""Read-only views of the store: status, report, analytics, charts."""
