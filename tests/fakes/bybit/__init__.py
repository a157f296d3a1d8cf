"""A local fake of Bybit's v5 public REST API (rest_server.py)."""
