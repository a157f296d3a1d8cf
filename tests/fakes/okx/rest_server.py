"""A local fake of OKX's v5 public REST API: the swap instruments ccxt 4.5's ``okx.load_markets`` reads and the
recent liquidations the bot backfills from on start.

* ``GET /api/v5/public/instruments?instType=SWAP`` (what ccxt sends with ``options.fetchMarkets.types =
  ["swap"]``): BTC-USDT-SWAP (ctVal 0.01 BTC), ETH-USDT-SWAP (0.1 ETH), SOL-USDT-SWAP (1 SOL), and the inverse
  BTC-USD-SWAP (ctVal 100 USD, settled in BTC), in OKX's shape (``code``/``msg``/``data``);
* ``GET /api/v5/public/liquidation-orders?instType=SWAP&state=filled&uly=<uly>``: the liquidations a test put
  there for that underlying (:meth:`FakeOkxRest.add_liquidation`), newest first, as OKX answers
  (``data[]`` of ``{instId, instFamily, uly, instType, details[]}``); an underlying without any: ``data: []``.
  A missing ``uly`` is answered with OKX's parameter error (code 51000).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.json_rest import JsonRest

__all__ = ["FakeOkxRest", "swap_instrument"]


def swap_instrument(inst_id: str, *, ct_val: str, tick: str, lot: str = "0.01", inverse: bool = False
                    ) -> dict[str, Any]:
    """One row of ``/api/v5/public/instruments?instType=SWAP`` as OKX answers it."""
    base, quote = inst_id.split("-")[:2]
    return {
        "alias": "", "auctionEndTime": "", "baseCcy": "", "category": "1", "ctMult": "1",
        "ctType": "inverse" if inverse else "linear", "ctVal": ct_val, "ctValCcy": quote if inverse else base,
        "expTime": "", "instFamily": f"{base}-{quote}", "instId": inst_id, "instType": "SWAP", "lever": "100",
        "listTime": "1611916828000", "contTdSwTime": "1611916828000", "lotSz": lot, "maxIcebergSz": "100000000",
        "maxLmtAmt": "20000000", "maxLmtSz": "100000000", "maxMktAmt": "", "maxMktSz": "12000",
        "maxStopSz": "12000", "maxTriggerSz": "100000000", "maxTwapSz": "100000000", "minSz": lot,
        "openType": "", "optType": "", "quoteCcy": "", "ruleType": "normal",
        "settleCcy": base if inverse else quote, "state": "live", "stk": "", "tickSz": tick,
        "uly": f"{base}-{quote}", "instIdCode": abs(hash(inst_id)) % 10_000_000,
    }


DEFAULT_INSTRUMENTS = (
    swap_instrument("BTC-USDT-SWAP", ct_val="0.01", tick="0.1"),
    swap_instrument("ETH-USDT-SWAP", ct_val="0.1", tick="0.01"),
    swap_instrument("SOL-USDT-SWAP", ct_val="1", tick="0.01"),
    swap_instrument("BTC-USD-SWAP", ct_val="100", tick="0.1", lot="1", inverse=True),
)


class FakeOkxRest(JsonRest):
    """OKX's public instruments and liquidation orders on 127.0.0.1."""

    name = "fake OKX REST"

    def __init__(self, instruments: tuple[dict[str, Any], ...] = DEFAULT_INSTRUMENTS, *, port: int = 0) -> None:
        self.instruments = list(instruments)
        self._liquidations: dict[str, list[tuple[str, dict[str, str]]]] = {}
        super().__init__({("GET", "/api/v5/public/instruments"): self._instruments,
                          ("GET", "/api/v5/public/liquidation-orders"): self._liquidation_orders,
                          ("GET", "/api/v5/public/time"): lambda _p: self._ok([{"ts": "1791565600000"}])},
                         port=port)

    @staticmethod
    def _ok(data: list[Any]) -> dict[str, Any]:
        return {"code": "0", "msg": "", "data": data}

    def add_liquidation(self, inst_id: str, *, pos_side: str, side: str, sz: str, bk_px: str, ts: int) -> None:
        """One filled liquidation of ``inst_id`` for ``liquidation-orders`` to return."""
        uly = "-".join(inst_id.split("-")[:2])
        detail = {"bkLoss": "0", "bkPx": bk_px, "ccy": "", "posSide": pos_side, "side": side, "sz": sz,
                  "ts": str(ts), "time": str(ts)}
        self._liquidations.setdefault(uly, []).append((inst_id, detail))

    def _instruments(self, params: dict[str, str]) -> dict[str, Any]:
        kind = params.get("instType")
        return self._ok([r for r in self.instruments if r["instType"] == kind])

    def _liquidation_orders(self, params: dict[str, str]) -> dict[str, Any]:
        uly = params.get("uly") or params.get("instFamily")
        if params.get("instType") != "SWAP" or not uly:
            return {"code": "51000", "msg": "Parameter uly error", "data": []}
        by_inst: dict[str, list[dict[str, str]]] = {}
        for inst_id, detail in self._liquidations.get(uly, []):
            by_inst.setdefault(inst_id, []).append(detail)
        return self._ok([{"details": sorted(details, key=lambda d: -int(d["ts"])), "instFamily": uly,
                          "instId": inst_id, "instType": "SWAP", "uly": uly}
                         for inst_id, details in by_inst.items()])
