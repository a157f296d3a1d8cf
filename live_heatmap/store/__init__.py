"""Events on disk: the recorder (SQLite), warm start, import and export."""
