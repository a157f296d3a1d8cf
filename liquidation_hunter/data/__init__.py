"""Price files: the one reader of aggTrades and klines CSVs."""
