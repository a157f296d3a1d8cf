"""Prices for backtests: the price series (:mod:`.prices.series`) and the one reader of price files, trades,
aggTrades and klines CSVs (:mod:`.prices.files`); both imported from :mod:`.prices`."""
