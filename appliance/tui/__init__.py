"""The operator console (Textual). It speaks only the admin API; it never opens the database or the
key. Filled in by the console issue."""
