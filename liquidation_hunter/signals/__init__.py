"""Clusters + price -> a signal: the hunter, its rules, its data sources."""
