"""A local fake of OKX's v5 public REST API (rest_server.py)."""
