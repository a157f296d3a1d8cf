"""The live connection to the exchange: sockets, subscriptions, shards, reconnects."""
