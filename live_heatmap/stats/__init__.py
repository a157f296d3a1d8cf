"""Statistics of the observed clusters (issue 16): each cluster's robust z-score against its own symbol's history
and a risk level, a summary per symbol, and the density profile (the seed's KDE). Pure: numpy, time passed in.

- :class:`ClusterBaseline` (``baseline.py``): per symbol, the cluster sizes sampled over a retention; z-scores.
- :class:`ClusterStats`, :class:`SymbolStatistics` (``cluster_stats.py``): what the API, the page, ``status`` and
  the alerts read.
- :func:`density_profile` (``density.py``), :func:`replay_history` (``replay.py``: the history at start),
  :func:`risk_level` and :class:`RiskThresholds` (``risk.py``).

See docs/STATS.md.
"""

from live_heatmap.stats.baseline import ClusterBaseline
from live_heatmap.stats.cluster_stats import DEFAULT_BANDWIDTH, ClusterStats, SymbolStatistics
from live_heatmap.stats.density import DensityProfile, density_profile
from live_heatmap.stats.replay import replay_history
from live_heatmap.stats.risk import DEFAULT_THRESHOLDS, RISK_LEVELS, RiskLevel, RiskThresholds, at_least, risk_level

__all__ = [
    "DEFAULT_BANDWIDTH",
    "DEFAULT_THRESHOLDS",
    "RISK_LEVELS",
    "ClusterBaseline",
    "ClusterStats",
    "DensityProfile",
    "RiskLevel",
    "RiskThresholds",
    "SymbolStatistics",
    "at_least",
    "density_profile",
    "replay_history",
    "risk_level",
]
