"""Trading: the records both brokers return, the books (SQLite), the paper and live brokers, and the
one module that talks to ccxt (:mod:`.exchange`). Nothing here imports ccxt at package import time."""
