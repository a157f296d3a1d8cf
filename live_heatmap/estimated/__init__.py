"""Estimated liquidation levels."""
