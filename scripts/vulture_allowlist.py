"""Names vulture (`make lint`) reports as unused that are used from outside the code it reads: hooks the standard
library or a framework calls by name, record fields filled by a decoder, public properties of the documented
API, and pytest fixtures and hooks. Everything else it reports is dead code and is deleted, not listed here.
"""
# ruff: noqa
# fmt: off
__getattr__  # unused function (liquidation_hunter/api/__init__.py): the module's lazy attribute hook
docs  # unused function (liquidation_hunter/api/app.py): a route, called by FastAPI
uptime_s  # unused variable (liquidation_hunter/api/schemas.py): fields of the answers' models, read by FastAPI
connected  # unused variable (liquidation_hunter/api/schemas.py)
best_cluster  # unused variable (liquidation_hunter/api/schemas.py)
best_zone  # unused variable (liquidation_hunter/api/schemas.py)
z_long  # unused variable (liquidation_hunter/api/schemas.py)
z_short  # unused variable (liquidation_hunter/api/schemas.py)
price_source  # unused variable (liquidation_hunter/api/schemas.py)
model_config  # unused variable (liquidation_hunter/api/schemas.py)
markers  # unused variable (liquidation_hunter/api/schemas.py)
last_bar_ms  # unused variable (liquidation_hunter/api/schemas.py)
distance_pct  # unused variable (liquidation_hunter/api/schemas.py)
dominant_side  # unused variable (liquidation_hunter/api/schemas.py): /api/v1/stats (issue 16)
high_risk_clusters  # unused variable (liquidation_hunter/api/schemas.py)
max_z_score  # unused variable (liquidation_hunter/api/schemas.py)
clusters_with_stats  # unused variable (liquidation_hunter/api/schemas.py)
_.should_exit  # unused attribute (liquidation_hunter/api/server.py): read by uvicorn's loop
_.force_exit  # unused attribute (liquidation_hunter/api/server.py)
exc_info  # unused variable (tests/fakes/binance/*.py): __exit__'s arguments
_.job_prices  # unused method (liquidation_hunter/bot/engine.py:186)
_.job_clusters  # unused method (liquidation_hunter/bot/engine.py:201)
_.job_signals  # unused method (liquidation_hunter/bot/engine.py:204)
_.job_positions  # unused method (liquidation_hunter/bot/engine.py:272)
_.job_heartbeat  # unused method (liquidation_hunter/bot/engine.py:323)
_.job_markets  # unused method (liquidation_hunter/bot/engine.py: run by name, as the others)
_.job_estimated  # unused method (liquidation_hunter/bot/engine.py: run by name, as the others)
_.job_orderbook  # unused method (liquidation_hunter/bot/engine.py: run by name, as the others)
_.job_orderbook_record  # unused method (liquidation_hunter/bot/engine.py: run by name, as the others)
_.job_alerts  # unused method (liquidation_hunter/bot/engine.py: run by name, as the others)
_.row_factory  # unused attribute (liquidation_hunter/trading/books/file.py): read by sqlite3
margin_mode  # unused variable (liquidation_hunter/trading/exchange.py:161)
_.__context__  # unused attribute (liquidation_hunter/trading/exchange.py:337)
_.__suppress_context__  # unused attribute (liquidation_hunter/trading/exchange.py:338)
_.is_below_price  # unused property (live_heatmap/cluster.py:52)
_.time_centers  # unused property (live_heatmap/grid.py:132)
l  # unused variable (live_heatmap/wire/events.py:180)
pytest_configure  # unused function (tests/conftest.py:22)
manual_clock  # unused function (tests/conftest.py:39)
protocol_version  # unused variable (tests/fakes/binance/rest_server.py:317)
_.close_connection  # unused attribute (tests/fakes/binance/rest_server.py:336)
do_DELETE  # unused variable (tests/fakes/binance/rest_server.py:338)
do_GET  # unused variable (tests/fakes/binance/rest_server.py:338)
do_PATCH  # unused variable (tests/fakes/binance/rest_server.py:338)
do_POST  # unused variable (tests/fakes/binance/rest_server.py:338)
do_PUT  # unused variable (tests/fakes/binance/rest_server.py:338)
_.log_message  # unused method (tests/fakes/binance/rest_server.py:340)
daemon_threads  # unused variable (tests/fakes/binance/rest_server.py:345)
_.close_connection  # unused method (tests/fakes/binance/ws_server.py:193)
_.drop_connection  # unused method (tests/fakes/binance/ws_server.py:208)
_.marks  # unused attribute (tests/support/market_replay.py:61)
_.marks  # unused attribute (tests/support/market_replay.py:104)
_.binary_location  # unused attribute (tests/liquidation_hunter/api/test_page_browser.py:73)
restore_logging  # unused function (tests/live_heatmap/store/test_recorder.py:439)
host_tz  # unused function (tests/liquidation_hunter/bot/test_risk_manager.py:491)
host_tz  # unused variable (tests/liquidation_hunter/bot/test_risk_manager.py:509)
host_tz  # unused variable (tests/liquidation_hunter/bot/test_risk_manager.py:522)
postgres_server  # a fixture, asked for by name (tests/conftest.py: store_target's getfixturevalue)
