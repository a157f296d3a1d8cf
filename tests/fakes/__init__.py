"""Fakes of the servers the code talks to, on 127.0.0.1: ``binance`` (Binance USD-M's streams and REST API)."""
