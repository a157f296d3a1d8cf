"""Local fakes of OKX's v5 public servers: the REST API (rest_server.py) and the WebSocket (ws_server.py)."""
