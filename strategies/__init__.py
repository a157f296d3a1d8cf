"""Strategies the bot can run, built on :class:`liquidation_hunter.LiquidationHunter`.

The strategy interface and the shipped strategies (``liquidation_magnet``,
``cascade_fade``) arrive with the bot; until then the hunter's ``magnet`` rule
(:func:`liquidation_hunter.magnet_rule`) is the strategy.
"""
