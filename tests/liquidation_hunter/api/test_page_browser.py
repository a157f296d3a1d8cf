"""The page (``GET /``) in headless Chromium: it loads, draws a non-blank heatmap, switching the symbol in the
picker changes the drawing, the cluster list fills, and API errors show; inside a running bot it shows the bot's
open positions, recent trades and equity curve, its entries and exits on the heatmap and the mark-price line.
Screenshots go to ``artifacts/``.

Drives Debian's ``chromium`` through ``chromedriver`` with Selenium (``dev`` extra). Skipped, saying why, when
either is missing; CI (``.ci/run``) installs them. The server is the real :class:`ApiServer` over the recording
at 2025-01-27T17:20Z with trade prices (what ``liquidation-hunter serve`` runs); the browser talks only to 127.0.0.1.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, WIRE
from running_bot import RunningBot, running_bot
from venue_events import AT, three_venues

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "artifacts"
AT_MS = 1_737_998_400_000  # 2025-01-27T17:20:00Z
PRICES = DATA / "aggtrades_large.csv"

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:  # pragma: no cover - the dev extra installs it
    webdriver = None

if webdriver is None:
    pytest.skip("selenium is not installed (pip install -e '.[dev]')", allow_module_level=True)
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip("no headless browser: needs Debian's chromium and chromium-driver "
                "(apt-get install chromium chromium-driver; .ci/run installs them)", allow_module_level=True)

# Colour statistics of the heatmap canvas' plot area (the pixels behind the axes' labels excluded):
# distinct colours, the share of pixels that are not the empty colour (viridis' purple), the mean brightness
# and a checksum.
CANVAS_STATS = """
const cv = document.getElementById('heatmap'), L = state.layout, dpr = window.devicePixelRatio || 1;
const x0 = Math.ceil(L.x0 * dpr) + 2, y0 = Math.ceil(L.y0 * dpr) + 2;
const w = Math.floor((L.x1 - L.x0) * dpr) - 4, h = Math.floor((L.y1 - L.y0) * dpr) - 4;
const d = cv.getContext('2d').getImageData(x0, y0, w, h).data;
const colours = new Set(); let heat = 0, sum = 0, light = 0;
for (let i = 0; i < d.length; i += 4) {
  const c = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
  colours.add(c);
  if (c !== 0x440154) heat++;
  light += d[i] + d[i + 1] + d[i + 2];
  sum = (sum * 31 + c) % 2147483647;
}
return {distinct: colours.size, heat: heat / (w * h), brightness: light / (3 * w * h), checksum: sum};
"""


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    from liquidation_hunter.api.recording import source_from_recording
    from liquidation_hunter.api.server import ApiServer

    source = source_from_recording(WIRE, at_ms=AT_MS, prices=[PRICES])
    with ApiServer(source, host="127.0.0.1", port=0) as server:
        yield server.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,820", "--force-device-scale-factor=1", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-default-apps", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # explicit driver: no download
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll ``check`` until it is truthy. An element the page re-rendered meanwhile (the picker re-renders
    its list on every keystroke) counts as "not yet"."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def drawn(driver: Any, symbol: str) -> bool:
    return bool(driver.execute_script(
        "const b = document.body.dataset;"
        "return b.ready === '1' && b.drawnSymbol === arguments[0] && !b.loading;", symbol))


def screenshot(driver: Any, symbol: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"page-{symbol}.png"
    path.unlink(missing_ok=True)
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    assert path.stat().st_size > 10_000, f"{path}: {path.stat().st_size} bytes, too small for the page"
    return path


def cluster_rows(driver: Any) -> list[str]:
    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#cluster-rows tr[data-cluster]")]


def test_page_draws_heatmap_and_switches_symbol(server_url: str, browser: Any) -> None:
    browser.get(server_url + "/#BTCUSDT")
    wait_for(lambda: drawn(browser, "BTCUSDT"), "BTCUSDT drawn")
    assert browser.title == "Liquidation heatmap"
    assert not browser.find_element(By.ID, "error").is_displayed(), browser.find_element(By.ID, "error").text

    btc = browser.execute_script(CANVAS_STATS)
    # viridis cells at several intensities plus the price line and cluster lines: many colours, some heat
    assert btc["distinct"] > 20, btc
    assert btc["heat"] > 0.02, btc
    rows = cluster_rows(browser)
    assert rows, "no cluster listed for BTCUSDT"
    assert all(("long" in r or "short" in r) and "%" in r for r in rows), rows
    screenshot(browser, "BTCUSDT")

    # the picker: the search filters the (289) symbols, a click switches
    search = browser.find_element(By.ID, "symbol-search")
    search.click()
    search.send_keys("eth")
    listed = wait_for(lambda: (symbols := browser.execute_script(
        "return [...document.querySelectorAll('#symbol-list li[data-symbol]')].map(li => li.dataset.symbol)"))
        and "ETHUSDT" in symbols and all("ETH" in s for s in symbols) and symbols, "the picker filtered to ETH")
    assert "BTCUSDT" not in listed
    wait_for(lambda: browser.find_element(By.CSS_SELECTOR, '#symbol-list li[data-symbol="ETHUSDT"]').click() or True,
             "a click on ETHUSDT")
    wait_for(lambda: drawn(browser, "ETHUSDT"), "ETHUSDT drawn")
    assert browser.find_element(By.ID, "title-symbol").text == "ETHUSDT"
    assert browser.current_url.endswith("#ETHUSDT")

    eth = browser.execute_script(CANVAS_STATS)
    assert eth["distinct"] > 20 and eth["heat"] > 0.02, eth
    assert eth["checksum"] != btc["checksum"], "switching BTCUSDT -> ETHUSDT left the drawing unchanged"
    assert cluster_rows(browser), "no cluster listed for ETHUSDT"
    screenshot(browser, "ETHUSDT")

    # the scale is redrawn locally: the same cells, brighter on a log scale than on a linear one
    # (auto-refresh off first, and each scale drawn and measured in one script: no reload in between)
    browser.execute_script("const a = document.getElementById('auto'); a.checked = false;"
                           " a.dispatchEvent(new Event('change'));")
    linear = browser.execute_script("document.getElementById('scale').value = 'linear'; render();" + CANVAS_STATS)
    log = browser.execute_script("document.getElementById('scale').value = 'log'; render();" + CANVAS_STATS)
    assert log["brightness"] > linear["brightness"] + 1, (linear, log)

    # a filter no cluster passes empties the list (sent to the API as min_strength)
    strength = browser.find_element(By.ID, "min-strength")
    strength.clear()
    strength.send_keys("1")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#cluster-rows td.empty")
             or all(float(r.get_attribute("data-strength")) >= 1.0
                    for r in browser.find_elements(By.CSS_SELECTOR, "#cluster-rows tr[data-cluster]")),
             "the strength filter applied")

    # an API error is shown in the page, and another symbol's map is not left on screen
    browser.execute_script("state.symbol = 'NOSUCHUSDT'; load(true);")
    banner = wait_for(lambda: [e for e in browser.find_elements(By.ID, "error") if e.is_displayed()], "the error")
    assert "404" in banner[0].text and "unknown symbol" in banner[0].text, banner[0].text
    assert browser.execute_script("return document.body.dataset.drawnSymbol") is None

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "NOSUCHUSDT" not in e["message"]]
    assert not errors, errors
    assert (ARTIFACTS / "page-BTCUSDT.png").is_file() and (ARTIFACTS / "page-ETHUSDT.png").is_file()
    # a server over a recording reads no books: no bot panel
    assert browser.execute_script("return document.body.dataset.bot") == "none"
    assert not browser.find_element(By.ID, "bot").is_displayed()


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    with running_bot(tmp_path_factory.mktemp("page-bot")) as running:
        yield running


def test_page_of_a_running_bot_shows_positions_trades_equity_and_markers(bot: RunningBot, browser: Any) -> None:
    """The bot of tests/support/running_bot.py: two open positions, one closed trade, half an hour of equity."""
    browser.get(bot.url + "/#BTCUSDT")
    wait_for(lambda: drawn(browser, "BTCUSDT"), "BTCUSDT drawn")
    wait_for(lambda: browser.execute_script("return document.body.dataset.bot") == "ready", "the bot's panel")
    assert browser.find_element(By.ID, "bot").is_displayed()

    positions = {r.get_attribute("data-symbol"): r.text
                 for r in browser.find_elements(By.CSS_SELECTOR, "#position-rows tr[data-symbol]")}
    assert set(positions) == {"BTCUSDT", "ETHUSDT"}, positions
    assert "long" in positions["BTCUSDT"] and "+8.00" in positions["BTCUSDT"]  # 0.01 x (101,000 - 100,200)
    assert "short" in positions["ETHUSDT"] and "+25.00" in positions["ETHUSDT"]  # 0.5 x (3,100 - 3,050)
    [trade] = browser.find_elements(By.CSS_SELECTOR, "#trade-rows tr[data-symbol]")
    assert trade.get_attribute("data-reason") == "take_profit" and "BTCUSDT" in trade.text

    # the equity curve: the seeded half hour and the bot's own snapshots, drawn as a line (not blank)
    equity = browser.execute_script(
        "const cv = document.getElementById('equity'), d = cv.getContext('2d').getImageData(0, 0, cv.width, "
        "cv.height).data; let lit = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 1] > 150 && d[i] < 120) lit++;"
        "return {points: Number(cv.dataset.points), lit};")
    assert equity["points"] >= 30 and equity["lit"] > 50, equity  # the curve ends above the start: green

    # the heatmap: entries and exits of the bot on BTCUSDT, a price line of mark prices once two are kept
    grid = browser.execute_script("return state.grid")
    assert [(m["kind"], m["client_id"]) for m in grid["markers"]] == [
        ("entry", "lh-seed-btc-1"), ("exit", "lh-seed-btc-1"), ("entry", "lh-seed-btc-2")]
    marker = browser.execute_script(
        "const m = state.grid.markers[1], L = state.layout, dpr = window.devicePixelRatio || 1;"
        "const d = document.getElementById('heatmap').getContext('2d')"
        ".getImageData(Math.round((L.X(m.time) + 6) * dpr) - 1, Math.round(L.Y(m.price) * dpr) - 1, 3, 3).data;"
        "return [d[0], d[1], d[2]];")
    assert marker[1] > 150 and marker[0] < 120, marker  # the exit's ring, in the long's (green) colour
    wait_for(lambda: browser.execute_script("load(true); return state.grid && state.grid.price_source") == "marks",
             "the mark-price line", timeout=20)
    wait_for(lambda: "price line: mark prices" in browser.find_element(By.ID, "title-info").text, "the title")
    screenshot(browser, "bot-BTCUSDT")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


@pytest.fixture(scope="module")
def venues_url() -> Iterator[str]:
    from liquidation_hunter.api.server import ApiServer
    from liquidation_hunter.api.views import ApiSource
    from live_heatmap import LiveLiquidationHeatmap

    heatmap = LiveLiquidationHeatmap(clock=lambda: AT)
    heatmap.ingest_many(three_venues())
    with ApiServer(ApiSource(heatmap, clock=lambda: AT), host="127.0.0.1", port=0) as server:
        yield server.url


def venue_cells(driver: Any) -> list[str]:
    return [td.get_attribute("data-venues") for td in driver.find_elements(By.CSS_SELECTOR, "#cluster-rows td.venues")]


def test_page_venue_filter_requeries_with_exchanges(venues_url: str, browser: Any) -> None:
    browser.get(venues_url + "/#BTCUSDT")
    wait_for(lambda: drawn(browser, "BTCUSDT"), "BTCUSDT drawn")
    boxes = browser.find_elements(By.CSS_SELECTOR, '#venues input[name="venue"]')
    assert [(b.get_attribute("value"), b.is_selected()) for b in boxes] == [
        ("binance", True), ("bybit", True), ("okx", True)]
    assert browser.execute_script("return document.body.dataset.exchanges") == ""
    assert sorted(venue_cells(browser)) == ["binance,bybit", "bybit", "okx"]  # the mixed cluster says so
    held = Counter(e.exchange.value for e in three_venues())  # each venue's events, beside its box
    health = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#venue-health span[data-venue]"), "venue health")
    assert {h.get_attribute("data-venue"): h.text for h in health} == {
        "binance": f"BN {held['binance']}", "bybit": f"BY {held['bybit']}", "okx": f"OK {held['okx']}"}
    browser.execute_script("const a = document.getElementById('auto'); a.checked = false;"
                           " a.dispatchEvent(new Event('change'));")

    boxes[1].click()  # untick Bybit: the grid and the clusters are asked for Binance and OKX only
    wait_for(lambda: browser.execute_script("return document.body.dataset.exchanges") == "binance,okx"
             and drawn(browser, "BTCUSDT"), "the page re-queried without Bybit")
    assert venue_cells(browser) == ["okx"]  # three Binance longs alone make no cluster
    asked = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any("/api/v1/grid/BTCUSDT?" in u and "exchanges=binance%2Cokx" in u for u in asked), asked
    assert any("/api/v1/clusters/BTCUSDT?" in u and "exchanges=binance%2Cokx" in u for u in asked), asked
    screenshot(browser, "BTCUSDT-binance-okx")

    for box in (boxes[0], boxes[2]):  # no venue ticked: nothing to ask, said so
        box.click()
    banner = wait_for(lambda: [e for e in browser.find_elements(By.ID, "error") if e.is_displayed()], "the notice")
    assert "tick at least one venue" in banner[0].text
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


# ------------------------------------------------------------------ the estimated layer (issue 14)

# pixels of the plot area near the estimated colours (the hatched bands)
ESTIMATED_INK = """
const cv = document.getElementById('heatmap'), L = state.layout, dpr = window.devicePixelRatio || 1;
const d = cv.getContext('2d').getImageData(Math.ceil(L.x0 * dpr), Math.ceil(L.y0 * dpr),
                                           Math.floor((L.x1 - L.x0) * dpr), Math.floor((L.y1 - L.y0) * dpr)).data;
const near = (i, r, g, b) => Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 60;
let ink = 0;
for (let i = 0; i < d.length; i += 4) if (near(i, 255, 106, 213) || near(i, 106, 200, 255)) ink++;
return ink;
"""


def pick_layer(driver: Any, layer: str) -> None:
    driver.execute_script("const s = document.getElementById('layer'); s.value = arguments[0];"
                          " s.dispatchEvent(new Event('change'));", layer)


@pytest.fixture(scope="module")
def estimated_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``serve --history``: the recording with an estimated layer of BTCUSDT from fetched history of the day."""
    from datetime import date

    from history_dir import write_history

    from liquidation_hunter.api.recording import source_from_recording
    from liquidation_hunter.api.server import ApiServer

    # the synthetic day drifts up 0.01 % a bar to about the recording's 99,400 at 17:20
    history = write_history(tmp_path_factory.mktemp("history"), "BTCUSDT", date(2025, 1, 27), 97_400.0)
    source = source_from_recording(WIRE, at_ms=AT_MS, prices=[PRICES], history=history)
    with ApiServer(source, host="127.0.0.1", port=0) as server:
        yield server.url


def test_page_layer_toggle_draws_the_estimated_levels_labelled(estimated_url: str, browser: Any) -> None:
    browser.get(estimated_url + "/#BTCUSDT")
    wait_for(lambda: drawn(browser, "BTCUSDT"), "BTCUSDT drawn")
    browser.execute_script("const a = document.getElementById('auto'); a.checked = false;"
                           " a.dispatchEvent(new Event('change'));")
    label = browser.find_element(By.ID, "estimated-label")
    assert not label.is_displayed() and browser.execute_script(ESTIMATED_INK) == 0
    observed = browser.execute_script(CANVAS_STATS)

    pick_layer(browser, "both")
    wait_for(lambda: browser.execute_script("return document.body.dataset.layer") == "both"
             and drawn(browser, "BTCUSDT"), "both layers drawn")
    assert label.is_displayed()
    assert "estimated" in label.text and "brackets of 2025-12-25" in label.text and "not validated" in label.text
    assert label.get_attribute("data-validated") == "false" and label.get_attribute("data-as-of") == "2025-12-25"
    both = browser.execute_script(CANVAS_STATS)
    assert both["checksum"] != observed["checksum"]
    assert browser.execute_script(ESTIMATED_INK) > 200
    asked = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any("/api/v1/estimated/BTCUSDT?price=" in u for u in asked), asked
    screenshot(browser, "BTCUSDT-estimated-both")

    pick_layer(browser, "estimated")  # the observed heat leaves; the estimate and its label stay
    wait_for(lambda: browser.execute_script("return document.body.dataset.layer") == "estimated"
             and drawn(browser, "BTCUSDT"), "the estimated layer alone drawn")
    alone = browser.execute_script(CANVAS_STATS)
    assert alone["heat"] < both["heat"] and "not validated" in label.text
    assert browser.execute_script(ESTIMATED_INK) > 200
    assert "estimated levels only" in browser.find_element(By.ID, "title-info").text

    pick_layer(browser, "observed")
    wait_for(lambda: browser.execute_script("return document.body.dataset.layer") == "observed"
             and not label.is_displayed(), "back to observed")
    assert browser.execute_script(ESTIMATED_INK) == 0
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_page_without_an_estimated_layer_says_why_and_stays_observed(server_url: str, browser: Any) -> None:
    browser.get(server_url + "/#BTCUSDT")
    wait_for(lambda: drawn(browser, "BTCUSDT"), "BTCUSDT drawn")
    pick_layer(browser, "estimated")
    wait_for(lambda: browser.execute_script("return document.body.dataset.estimated") == "none", "the refusal")
    wait_for(lambda: drawn(browser, "BTCUSDT"), "BTCUSDT drawn again")
    layer = browser.find_element(By.ID, "layer")
    assert layer.get_attribute("value") == "observed"
    assert browser.execute_script("return [...document.getElementById('layer').options].filter(o => o.disabled)"
                                  ".map(o => o.value)") == ["estimated", "both"]
    why = browser.find_element(By.ID, "layer-state").text
    assert why.startswith("estimated: off") and "estimated.enabled" in why and "--history" in why, why
    assert not browser.find_element(By.ID, "estimated-label").is_displayed()
    assert not browser.find_element(By.ID, "error").is_displayed()
    assert browser.execute_script("return document.body.dataset.layer") == "observed"


# ------------------------------------------------------------------ the unified view's tabs (issue 15)

# pixels of the plot area in the depth colours (live_heatmap's page: bids blue, asks orange, blended over the dark
# background; no viridis entry, cluster or estimated colour passes these tests)
DEPTH_INK = """
const cv = document.getElementById('heatmap'), L = state.layout, dpr = window.devicePixelRatio || 1;
const d = cv.getContext('2d').getImageData(Math.ceil(L.x0 * dpr), Math.ceil(L.y0 * dpr),
                                           Math.floor((L.x1 - L.x0) * dpr), Math.floor((L.y1 - L.y0) * dpr)).data;
let bid = 0, ask = 0;
for (let i = 0; i < d.length; i += 4) {
  const r = d[i], g = d[i + 1], b = d[i + 2];
  if (b > 1.6 * g && b > 2.5 * r && b > 60) bid++;
  else if (r > 1.25 * g && r > 2 * b && g > 0.4 * r && r > 50) ask++;
}
return {bid: bid / (d.length / 4), ask: ask / (d.length / 4)};
"""
# the colour under the middle of each wall drawn
WALL_PIXELS = """
const cv = document.getElementById('heatmap'), dpr = window.devicePixelRatio || 1;
return state.wallsDrawn.map(([x0, x1, y]) => Array.from(
  cv.getContext('2d').getImageData(Math.round((x0 + x1) / 2 * dpr), Math.round(y * dpr), 1, 1).data.slice(0, 3)));
"""


@pytest.fixture(scope="module")
def liquidity_url() -> Iterator[str]:
    """The recording with a liquidity layer of BTCUSDT: books around the recorded price over the last 20 minutes,
    a bid wall standing 0.4 % under it and an ask wall pulled 0.4 % over it."""
    from liquidity_books import WallPlan, fed_layer

    from liquidation_hunter.api.recording import source_from_recording
    from liquidation_hunter.api.server import ApiServer

    source = source_from_recording(WIRE, at_ms=AT_MS, prices=[PRICES])
    price = source.price("BTCUSDT", AT_MS)
    assert price is not None
    walls = [WallPlan("bid", price * 0.996, AT_MS - 1_200_000),
             WallPlan("ask", price * 1.004, AT_MS - 1_200_000, AT_MS - 300_000)]
    source.liquidity = fed_layer("BTCUSDT", price, walls, AT_MS - 1_200_000, AT_MS, step_ms=5000)
    with ApiServer(source, host="127.0.0.1", port=0) as server:
        yield server.url


def pick_tab(driver: Any, tab: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#tabs [data-tab="{tab}"]').click()
    wait_for(lambda: driver.execute_script("return document.body.dataset.tab") == tab and drawn(driver, "BTCUSDT"),
             f"the {tab} tab drawn")


def test_combined_tab_draws_depth_heat_behind_the_price_and_marks_the_walls(liquidity_url: str, browser: Any
                                                                           ) -> None:
    browser.get_log("browser")  # what earlier tests left
    browser.get(liquidity_url + "/#BTCUSDT")
    wait_for(lambda: drawn(browser, "BTCUSDT") and browser.execute_script(
        "return document.body.dataset.depth") == "ready", "BTCUSDT drawn with depth")
    browser.execute_script("const a = document.getElementById('auto'); a.checked = false;"
                           " a.dispatchEvent(new Event('change'));")
    assert browser.execute_script("return document.body.dataset.tab") == "combined"
    ink = browser.execute_script(DEPTH_INK)
    assert ink["bid"] > 0.02 and ink["ask"] > 0.02, ink  # both sides' depth drawn
    assert browser.execute_script("return document.body.dataset.walls") == "2"
    pixels = browser.execute_script(WALL_PIXELS)
    assert [tuple(p) for p in pixels] == [(0xb8, 0xdc, 0xff), (0xff, 0xd9, 0xa8)], pixels  # bid, ask wall colours
    assert cluster_rows(browser), "the Combined tab lists the clusters too"
    screenshot(browser, "BTCUSDT-combined")

    pick_tab(browser, "liquidations")  # the map as before issue 15: no depth
    none = browser.execute_script(DEPTH_INK)
    assert none["bid"] < 0.001 and none["ask"] < 0.001, none  # a few antialiased edges of the clusters' labels
    assert browser.execute_script("return document.body.dataset.walls") == "0"

    pick_tab(browser, "liquidity")  # depth and walls, no liquidation heat
    ink = browser.execute_script(DEPTH_INK)
    assert ink["bid"] > 0.05 and ink["ask"] > 0.05, ink
    assert browser.execute_script("return document.body.dataset.walls") == "2"
    screenshot(browser, "BTCUSDT-liquidity")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_combined_tab_without_a_liquidity_layer_is_the_liquidation_map(server_url: str, browser: Any) -> None:
    browser.get(server_url + "/#BTCUSDT")
    wait_for(lambda: drawn(browser, "BTCUSDT") and browser.execute_script(
        "return document.body.dataset.depth") == "none", "BTCUSDT drawn, no depth")
    assert browser.find_element(By.ID, "depth-state").text == "depth: off"
    combined = browser.execute_script(CANVAS_STATS)
    pick_tab(browser, "liquidations")
    assert browser.execute_script(CANVAS_STATS)["checksum"] == combined["checksum"]


@pytest.fixture(scope="module")
def stats_url() -> Iterator[str]:
    """The recording with a short history requirement, so BTCUSDT's clusters have z-scores (issue 16)."""
    from liquidation_hunter.api.recording import source_from_recording
    from liquidation_hunter.api.server import ApiServer
    from liquidation_hunter.config.sections import StatsConfig

    source = source_from_recording(WIRE, at_ms=AT_MS, prices=[PRICES], stats=StatsConfig(min_history=5,
                                                                                          sample_minutes=1))
    with ApiServer(source, host="127.0.0.1", port=0) as server:
        yield server.url


def test_page_draws_the_side_density_profile_and_lists_z_scores_and_the_summary(stats_url: str, browser: Any
                                                                                 ) -> None:
    import json
    import urllib.request

    browser.get(stats_url + "/#BTCUSDT")
    wait_for(lambda: drawn(browser, "BTCUSDT"), "BTCUSDT drawn")
    browser.execute_script("const a = document.getElementById('auto'); a.checked = false;"
                           " a.dispatchEvent(new Event('change'));")
    assert browser.execute_script("return document.body.dataset.density") == "drawn"
    # the profile is on the canvas: the same drawing without it differs
    with_profile = browser.execute_script("render();" + CANVAS_STATS)
    without = browser.execute_script("const d = state.density; state.density = null; render(); const s = (() => {"
                                     + CANVAS_STATS + "})(); state.density = d; render(); return s;")
    assert with_profile["checksum"] != without["checksum"]
    with urllib.request.urlopen(stats_url + "/api/v1/clusters/BTCUSDT") as answer:
        clusters = json.load(answer)["clusters"]
    with urllib.request.urlopen(stats_url + "/api/v1/stats/BTCUSDT") as answer:
        stats = json.load(answer)
    assert any(c["z_score"] is not None for c in clusters)
    cells = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#cluster-rows td.risk")]
    assert cells == [f"{c['z_score']:.2f} {c['risk_level']}" if c["z_score"] is not None else "–" for c in clusters]
    summary = browser.find_element(By.ID, "stats-summary").text
    assert f"{stats['high_risk_clusters']} high risk" in summary and f"dominant {stats['dominant_side']}" in summary
    assert f"max z {stats['max_z_score']:.2f}" in summary
    screenshot(browser, "BTCUSDT-stats")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
