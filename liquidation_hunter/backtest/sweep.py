"""Parameter sweeps: one backtest per combination of a small grid, the results side by side.

A grid maps dotted config paths (``heatmap.cluster_window_pct``, ``hunter.min_strength``,
``strategy.params.min_events``...) to lists of values. Each combination is applied to the config's plain form
(``BotConfig.to_dict(masked=False)``) and checked again by ``BotConfig.from_mapping``, so a combination the
config rules refuse (a leverage too high for the stop, say) is a row with its error, not a crash. Rows come
in the grid's order (the first key varies slowest), whatever the number of worker processes, so the table is
the same every time. A user should see how much a result moves with its parameters before trusting it.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import itertools
import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import yaml

from liquidation_hunter.backtest.cluster import DEFAULT_CONNECT_TIMEOUT, run_on_cluster
from liquidation_hunter.backtest.inputs import BacktestError, config_hash, events_digest
from liquidation_hunter.backtest.report import clean, money, pct
from liquidation_hunter.backtest.result import BacktestResult
from liquidation_hunter.backtest.runner import DEFAULT_GAP_MINUTES, run_backtest
from liquidation_hunter.bot.assembly import check_strategy
from liquidation_hunter.config.model import BotConfig, ConfigFileError
from liquidation_hunter.data.prices import PriceSeries
from live_heatmap import ConfigError, LiquidationEvent
from live_heatmap.estimated.bars import Bar

__all__ = ["LOWER_TIER_TAKER_FEE", "MAX_COMBINATIONS", "SweepResult", "SweepRow", "apply_overrides", "check_keys",
           "parse_grid", "run_sweep", "run_task", "sensitivity", "with_sensitivity"]

MAX_COMBINATIONS = 256
COLUMNS = ("trades", "win_rate", "net_pnl", "return_pct", "max_drawdown_pct", "fees", "exposure_pct")
LOWER_TIER_TAKER_FEE = 0.0004
"""Binance USD-M's taker fee at VIP 1 (0.04 %; the default tier's is 0.05 %)."""


@dataclass(frozen=True, slots=True)
class SweepRow:
    params: Mapping[str, Any]
    figures: Mapping[str, Any] | None
    """The summary figures of :data:`COLUMNS`, or None when the combination failed."""
    error: str | None = None


@dataclass(frozen=True)
class SweepResult:
    keys: tuple[str, ...]
    rows: tuple[SweepRow, ...]
    base_config_hash: str
    inputs: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = clean({"keys": list(self.keys), "base_config_sha256": self.base_config_hash,
                      "inputs": dict(self.inputs),
                      "rows": [{"params": dict(r.params), "figures": None if r.figures is None else dict(r.figures),
                                "error": r.error} for r in self.rows],
                      "spread": self.spread()})
        return out

    def to_json(self) -> bytes:
        return (json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
                + "\n").encode()

    def spread(self) -> dict[str, Any]:
        """The range of net PnL and win rate over the combinations that ran."""
        ok = [r.figures for r in self.rows if r.figures is not None]
        net = [f["net_pnl"] for f in ok]
        rates = [f["win_rate"] for f in ok if f["win_rate"] is not None]
        return {"combinations": len(self.rows), "failed": len(self.rows) - len(ok),
                "net_pnl_min": min(net, default=None), "net_pnl_max": max(net, default=None),
                "win_rate_min": min(rates, default=None), "win_rate_max": max(rates, default=None),
                "profitable": sum(1 for v in net if v > 0)}

    def to_markdown(self) -> str:
        headers = [*self.keys, "trades", "win rate", "net PnL", "return", "max drawdown", "fees", "exposure"]
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" for _ in headers) + "|"]
        for row in self.rows:
            values = [_show(row.params[k]) for k in self.keys]
            f = row.figures
            if f is None:
                values += [f"error: {row.error}"] + [""] * 6
            else:
                values += [str(f["trades"]), pct(100 * f["win_rate"]) if f["win_rate"] is not None else "-",
                           money(f["net_pnl"]), pct(f["return_pct"], True), pct(f["max_drawdown_pct"]),
                           money(-f["fees"]), pct(f["exposure_pct"])]
            lines.append("| " + " | ".join(v.replace("|", "\\|") for v in values) + " |")
        s = self.spread()
        lines += ["", f"{s['combinations']} combinations ({s['failed']} refused by the config rules); "
                  f"{s['profitable']} profitable; net PnL from {money(s['net_pnl_min'])} to {money(s['net_pnl_max'])}"
                  " USDT."]
        return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


# ---------------------------------------------------------------------- grids


def parse_grid(items: Iterable[str]) -> dict[str, list[Any]]:
    """``["hunter.min_strength=0.3,0.5", ...]`` -> ``{"hunter.min_strength": [0.3, 0.5]}``.

    Each value is read as YAML (``0.3``, ``true``, ``null``, ``abc``). Raises ValueError for a malformed item."""

    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ValueError(f"--sweep {item!r}: expected KEY=VALUE1,VALUE2,... such as hunter.min_strength=0.3,0.5")
        if key in grid:
            raise ValueError(f"--sweep {key}: given twice")
        parsed = []
        for text in values.split(","):
            try:
                parsed.append(yaml.safe_load(text.strip()))
            except yaml.YAMLError:
                raise ValueError(f"--sweep {key}: cannot read the value {text.strip()!r}") from None
        grid[key] = parsed
    return grid


def _leaves(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        out.append(path)
        if isinstance(value, Mapping):
            out += _leaves(value, path + ".")
    return out


def check_keys(config: BotConfig, keys: Iterable[str]) -> None:
    """Raise ValueError (with a "did you mean") for a key that is not a dotted path of the config."""
    data = config.to_dict(masked=False)
    known = _leaves(data)
    for key in keys:
        if key in known or key.startswith("strategy.params."):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        raise ValueError(f"sweep key {key!r}: not a config key" + (f"; did you mean {close[0]!r}?" if close else
                                                                     " (use dotted paths such as hunter.min_strength)"))


def apply_overrides(config: BotConfig, overrides: Mapping[str, Any]) -> BotConfig:
    """``config`` with dotted-path values replaced, checked again as a whole with its strategy's parameters
    (ConfigFileError when refused)."""
    data = copy.deepcopy(config.to_dict(masked=False))
    for key, value in overrides.items():
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None and part == "params":
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ValueError(f"sweep key {key!r}: {part} is not a section")
            node = child
        node[parts[-1]] = value
    changed = BotConfig.from_mapping(data, config.source)
    check_strategy(changed)
    return changed


# ---------------------------------------------------------------------- running


_SHARED: dict[str, Any] = {}


def _init_worker(events: list[LiquidationEvent], prices: PriceSeries, options: dict[str, Any]) -> None:
    _SHARED.update(events=events, prices=prices, options=options)


Task = tuple[dict[str, Any], str | None, dict[str, Any]]
"""One combination: the base config's plain form, its source, the overrides."""
Outcome = tuple[dict[str, Any] | None, str | None]
"""A combination's figures, or None and the reason it was refused."""


def _run_one(task: Task) -> Outcome:
    return run_task(task, _SHARED["events"], _SHARED["prices"], _SHARED["options"])


def run_task(task: Task, events: list[LiquidationEvent], prices: PriceSeries, options: Mapping[str, Any]) -> Outcome:
    """One combination's backtest: a pure function of its arguments (a cluster may run it again elsewhere)."""
    data, source, overrides = task
    base = BotConfig.from_mapping(data, source)
    try:
        result = run_backtest(apply_overrides(base, overrides), events, prices, **options)
    except (ConfigFileError, ConfigError, BacktestError) as exc:
        return None, str(exc)
    summary = result.summary()
    return {**{k: summary[k] for k in COLUMNS}, "audit_ok": not result.audit}, None


def run_sweep(config: BotConfig, events: Iterable[LiquidationEvent], prices: PriceSeries,
              grid: Mapping[str, Sequence[Any]], *, start_ms: int | None = None, end_ms: int | None = None,
              symbols: Sequence[str] | None = None, gap_minutes: float = DEFAULT_GAP_MINUTES, workers: int = 1,
              progress: Callable[[float], None] | None = None,
              inputs: Mapping[str, Any] | None = None,
              estimated: Mapping[str, Sequence[Bar]] | None = None, scheduler: str | None = None,
              connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> SweepResult:
    """One backtest per combination of ``grid`` (module docstring); ``workers > 1`` runs them in that many
    processes; ``scheduler`` (``tcp://host:port``) runs them on that Dask cluster instead
    (:func:`~liquidation_hunter.backtest.cluster.run_on_cluster`: the same rows, byte for byte). ``estimated``:
    model bars per symbol for the estimated layer (:func:`run_backtest`). Raises
    ValueError for an unknown key, an empty list or a grid over :data:`MAX_COMBINATIONS`."""
    if not grid:
        raise ValueError("the sweep grid is empty")
    for key, values in grid.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"sweep key {key!r}: expected a non-empty list of values")
    check_keys(config, grid)
    keys = tuple(grid)
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]
    if len(combos) > MAX_COMBINATIONS:
        raise ValueError(f"the sweep has {len(combos)} combinations; at most {MAX_COMBINATIONS}")
    replay = list(events)
    options = {"start_ms": start_ms, "end_ms": end_ms, "symbols": symbols, "gap_minutes": gap_minutes,
               "estimated": estimated}
    data = config.to_dict(masked=False)
    tasks = [(data, config.source, combo) for combo in combos]
    outcomes: list[tuple[dict[str, Any] | None, str | None]] = []
    workers = max(1, min(int(workers), len(tasks), os.cpu_count() or 1))
    if scheduler is not None:
        outcomes = run_on_cluster(scheduler, run_task, tasks, (replay, prices, options), progress=progress,
                                  timeout=connect_timeout)
    elif workers == 1:
        _init_worker(replay, prices, options)
        try:
            for i, task in enumerate(tasks):
                outcomes.append(_run_one(task))
                if progress is not None:
                    progress((i + 1) / len(tasks))
        finally:
            _SHARED.clear()
    else:
        # fork on Linux: workers start at once and a script calling run_sweep needs no __main__ guard;
        # elsewhere spawn (the caller's script then needs ``if __name__ == "__main__":``).
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                                 initargs=(replay, prices, options)) as pool:
            for i, outcome in enumerate(pool.map(_run_one, tasks)):
                outcomes.append(outcome)
                if progress is not None:
                    progress((i + 1) / len(tasks))
    rows = tuple(SweepRow(params=combo, figures=figures, error=error)
                 for combo, (figures, error) in zip(combos, outcomes, strict=True))
    info = {"events_given_sha256": events_digest(replay), "prices_given_sha256": prices.digest(), **(inputs or {})}
    return SweepResult(keys=keys, rows=rows, base_config_hash=config_hash(config), inputs=info)


# ---------------------------------------------------------------------- sensitivity


def cost_cases(config: BotConfig) -> list[tuple[str, dict[str, Any]]]:
    """(label, overrides) of the cost cases :func:`sensitivity` replays: no slippage, twice the configured
    slippage (4 bps when none is configured) and the taker fee of a lower tier, when lower than the configured one."""
    risk = config.risk
    slip = risk.slippage_bps
    cases: list[tuple[str, dict[str, Any]]] = []
    if slip > 0:
        cases.append(("slippage 0 bps", {"risk.slippage_bps": 0.0}))
    double = 2 * slip if slip > 0 else 4.0
    cases.append((f"slippage {double:g} bps" + (" (2x)" if slip > 0 else ""), {"risk.slippage_bps": double}))
    if risk.taker_fee > LOWER_TIER_TAKER_FEE:
        cases.append((f"taker fee {100 * LOWER_TIER_TAKER_FEE:g} % (VIP 1)", {"risk.taker_fee": LOWER_TIER_TAKER_FEE}))
    return cases


def sensitivity(config: BotConfig, events: Iterable[LiquidationEvent], prices: PriceSeries, *,
                base: Mapping[str, Any] | None = None, **options: Any) -> tuple[dict[str, Any], ...]:
    """The backtest of ``config`` replayed with other costs (:func:`cost_cases`): one row per case with its
    trades, net PnL, return, fees and drawdown, the configured costs first (``base``: that replay's
    ``summary()``, else it is run too). ``options`` go to :func:`run_backtest` (start_ms, end_ms, symbols,
    gap_minutes, rules). A case the config rules refuse is a row with its error."""
    replay = list(events)
    risk = config.risk
    keep = ("trades", "net_pnl", "return_pct", "fees", "max_drawdown_pct", "win_rate")

    def row(case: str, overrides: Mapping[str, Any], summary: Mapping[str, Any] | None, error: str | None = None,
            ) -> dict[str, Any]:
        figures = {k: summary[k] for k in keep} if summary is not None else dict.fromkeys(keep)
        return {"case": case, "overrides": dict(overrides), **figures, "error": error}

    configured = (f"as configured: slippage {risk.slippage_bps:g} bps, taker fee {100 * risk.taker_fee:g} %")
    rows = [row(configured, {}, base if base is not None
                else run_backtest(config, replay, prices, **options).summary())]
    for case, overrides in cost_cases(config):
        try:
            summary = run_backtest(apply_overrides(config, overrides), replay, prices, **options).summary()
        except (ConfigFileError, ConfigError, BacktestError) as exc:
            rows.append(row(case, overrides, None, str(exc)))
        else:
            rows.append(row(case, overrides, summary))
    return tuple(rows)


def with_sensitivity(result: BacktestResult, config: BotConfig, events: Iterable[LiquidationEvent],
                     prices: PriceSeries, **options: Any) -> BacktestResult:
    """``result`` (the backtest of ``config``) with its :attr:`~BacktestResult.sensitivity` rows filled in."""
    rows = sensitivity(config, events, prices, base=result.summary(), **options)
    return dataclasses.replace(result, sensitivity=rows)
