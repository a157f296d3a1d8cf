"""Exchange frames -> events: one careful parser per format, one bulk path."""
