"""The bot's YAML config: the model, its sections, cross-field checks, the loader."""
