"""Pictures: the heatmap picture (matplotlib, imported only by its command)."""
