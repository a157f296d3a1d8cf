"""``ClusterStats`` (a cluster with its z-score and risk level) and ``SymbolStatistics``: what the API, the page,
``status`` and the alerts' cluster rule read about a symbol's clusters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from live_heatmap.cluster import LiquidationCluster
from live_heatmap.common.symbols import symbol_key
from live_heatmap.heatmap import LiveLiquidationHeatmap
from live_heatmap.side import Side
from live_heatmap.stats.baseline import ClusterBaseline
from live_heatmap.stats.density import DensityProfile, density_profile
from live_heatmap.stats.risk import DEFAULT_THRESHOLDS, RiskLevel, RiskThresholds, at_least, risk_level
from live_heatmap.venue import Exchanges

__all__ = ["DEFAULT_BANDWIDTH", "ClusterStats", "StatsSettings", "SymbolStatistics"]

DEFAULT_BANDWIDTH = 0.003
"""The density profile's kernel width: 0.003 of the price (0.3 %), on a log-price axis."""


class StatsSettings(Protocol):
    """What :meth:`SymbolStatistics.from_settings` reads (the config's ``stats`` section)."""

    @property
    def extreme(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def moderate(self) -> float: ...
    @property
    def min_history(self) -> int: ...
    @property
    def sample_minutes(self) -> float: ...
    @property
    def retention_days(self) -> float: ...
    @property
    def max_samples(self) -> int: ...
    @property
    def bandwidth(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ClusterStats:
    """A cluster with its statistics against its symbol's own history."""

    cluster: LiquidationCluster
    z_score: float | None
    """Robust z-score of ``cluster.weighted_notional`` (:class:`ClusterBaseline`); ``None`` without enough
    history."""
    risk_level: RiskLevel | None
    """``extreme``/``high``/``moderate``/``low`` by the thresholds; ``None`` when ``z_score`` is."""
    history_events: int
    """How many cluster samples the symbol's baseline holds (a z-score exists from ``min_history``)."""

    def to_dict(self) -> dict[str, Any]:
        """The cluster's dict (:meth:`LiquidationCluster.to_dict`) with ``z_score``, ``risk_level`` and
        ``history_events`` added."""
        out = self.cluster.to_dict()
        out["z_score"] = self.z_score
        out["risk_level"] = self.risk_level
        out["history_events"] = self.history_events
        return out


class SymbolStatistics:
    """Statistics of the heatmap's symbols: clusters with z-scores, a summary, the density profile.

    :meth:`sample` (the bot's clusters job, right after each rebuild) feeds each symbol's baseline at most once a
    sample slot and keeps every symbol's clusters with their statistics as of then (:meth:`latest`,
    :meth:`latest_summaries`: what ``status`` shows, read without asking the heatmap again). Reading
    (:meth:`clusters`, :meth:`summary`, :meth:`density`) changes nothing of the statistics. Time is always passed
    in.

    The heatmap keeps the clusters a reader asked for at a moment for ``update_interval`` (a reader a little
    later gets those), so a read by the statistics at some other moment could change what the strategy reads
    next. :meth:`sample` reads only right after ``heatmap.rebuild(now_ms=...)`` at that same moment, the symbols the
    heatmap had before it (the bot's clusters job passes them): the clusters of that sweep, which the next reader
    would get all the same. Nothing else in the bot reads through here, so
    the statistics move no trade.
    """

    def __init__(self, heatmap: LiveLiquidationHeatmap, baseline: ClusterBaseline, *,
                 thresholds: RiskThresholds = DEFAULT_THRESHOLDS, bandwidth: float = DEFAULT_BANDWIDTH) -> None:
        self.heatmap = heatmap
        self.baseline = baseline
        self.thresholds = thresholds
        self.bandwidth = bandwidth
        self._latest: dict[str, list[LiquidationCluster]] = {}
        self.latest_at: int | None = None
        """The ``now_ms`` of the last :meth:`sample` (None before the first)."""

    @classmethod
    def from_settings(cls, heatmap: LiveLiquidationHeatmap, settings: StatsSettings) -> SymbolStatistics:
        """Statistics of ``heatmap`` with an empty baseline, as the config's ``stats`` section says."""
        baseline = ClusterBaseline(retention_days=settings.retention_days, min_history=settings.min_history,
                                   sample_minutes=settings.sample_minutes, max_samples=settings.max_samples)
        thresholds = RiskThresholds(settings.extreme, settings.high, settings.moderate)
        return cls(heatmap, baseline, thresholds=thresholds, bandwidth=settings.bandwidth)

    def sample(self, now_ms: int, symbols: Iterable[str] | None = None) -> int:
        """Call right after ``heatmap.rebuild(now_ms=now_ms)`` (the class docstring says why). Records the clusters
        of ``symbols`` (default: every symbol of the heatmap) whose sample is due into the baseline and keeps each
        one's clusters with their statistics (:meth:`latest`); returns how many symbols were sampled."""
        sampled = 0
        baseline = self.baseline
        latest: dict[str, list[LiquidationCluster]] = {}
        for symbol in self.heatmap.symbols() if symbols is None else symbols:
            key = symbol_key(symbol)
            clusters = self.heatmap.get_clusters(key, now_ms=now_ms)
            if baseline.due(key, now_ms):
                sampled += baseline.add(key, now_ms, (c.weighted_notional for c in clusters))
            if clusters:
                latest[key] = clusters  # scored when read (status: once a heartbeat), not every rebuild
        self._latest, self.latest_at = latest, now_ms
        return sampled

    def latest(self) -> dict[str, list[ClusterStats]]:
        """Each symbol with clusters at the last :meth:`sample`: its clusters then, with their statistics."""
        return {key: self.annotate(key, clusters) for key, clusters in self._latest.copy().items()}

    def latest_summaries(self) -> list[dict[str, Any]]:
        """:meth:`summary` of each symbol with clusters at the last :meth:`sample`, from what it kept (no read of the
        heatmap): the most clusters at risk ``high`` or above first, then the most notional."""
        rows = [self._summarised(symbol, stats) for symbol, stats in self.latest().items()]
        rows.sort(key=lambda r: (-r["high_risk_clusters"], -r["total_notional"], r["symbol"]))
        return rows

    def annotate(self, symbol: str, clusters: Sequence[LiquidationCluster]) -> list[ClusterStats]:
        """``clusters`` (of ``symbol``) each with its statistics, in the same order."""
        key = symbol_key(symbol)
        history = self.baseline.history_events(key)
        zs = self.baseline.z_scores(key, (c.weighted_notional for c in clusters))
        return [ClusterStats(c, z, risk_level(z, self.thresholds), history) for c, z in zip(clusters, zs, strict=True)]

    def clusters(self, symbol: str, now_ms: int, *, exchanges: Exchanges = None) -> list[ClusterStats]:
        """``symbol``'s clusters at ``now_ms`` (strongest first, as the heatmap gives them) with their statistics."""
        return self.annotate(symbol, self.heatmap.get_clusters(symbol, now_ms=now_ms, exchanges=exchanges))

    def kept_clusters(self, now_ms: int | None = None) -> list[ClusterStats]:
        """Every symbol's clusters as the last :meth:`sample` kept them, with their statistics: what the bot's
        alerts' cluster rule reads (its ``ClustersOf``: pass ``bot.statistics.kept_clusters``). Reads nothing of
        the heatmap, so it moves no trade whichever job calls it; ``now_ms`` is not used."""
        return [stats for clusters in self.latest().values() for stats in clusters]

    def summary(self, symbol: str, now_ms: int) -> dict[str, Any]:
        """``symbol``'s clusters at ``now_ms`` summed up: the total weighted notional by side, the dominant side
        (the side with more; ``None`` with none or a tie), the clusters counted, those at risk ``high`` or
        above, the highest z-score and the history behind it."""
        return self._summarised(symbol, self.clusters(symbol, now_ms))

    def _summarised(self, symbol: str, stats: Sequence[ClusterStats]) -> dict[str, Any]:
        by_side = {Side.LONG: 0.0, Side.SHORT: 0.0}
        for s in stats:
            by_side[s.cluster.side] += s.cluster.weighted_notional
        long_, short = by_side[Side.LONG], by_side[Side.SHORT]
        dominant = None if long_ == short else (Side.LONG if long_ > short else Side.SHORT)
        zs = [s.z_score for s in stats if s.z_score is not None]
        return {
            "symbol": symbol,
            "total_notional": long_ + short,
            "long_notional": long_,
            "short_notional": short,
            "dominant_side": None if dominant is None else dominant.value,
            "clusters": len(stats),
            "high_risk_clusters": sum(at_least(s.risk_level, "high") for s in stats),
            "max_z_score": max(zs) if zs else None,
            "history_events": self.baseline.history_events(symbol_key(symbol)),
        }

    def density(self, symbol: str, now_ms: int, *, bandwidth: float | None = None,
                exchanges: Exchanges = None) -> DensityProfile:
        """The density profile of ``symbol``'s events inside the heatmap's horizon at ``now_ms``, decayed as the
        clusters are (``time_decay_minutes``)."""
        config = self.heatmap.config
        since = now_ms - int(config.horizon_minutes * 60_000)
        cols = self.heatmap.events_since(symbol, since, exchanges=exchanges)
        keep = cols.trade_time <= now_ms
        return density_profile(cols.price[keep], cols.notional[keep], cols.trade_time[keep], cols.is_long[keep],
                               now_ms=now_ms, time_decay_minutes=config.time_decay_minutes,
                               bandwidth=self.bandwidth if bandwidth is None else bandwidth)
