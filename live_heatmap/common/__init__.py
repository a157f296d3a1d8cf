"""What every layer shares: symbols, backoff, time and duration parsing."""
