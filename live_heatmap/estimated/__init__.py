"""Estimated liquidation levels (issue 14): where recently opened positions would be liquidated.

Pure: numpy only, time passed in, no network and no wall clock; imports nothing of
``liquidation_hunter``. See docs/ESTIMATED.md.
"""
