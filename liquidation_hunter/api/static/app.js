/* The liquidation heatmap page: plain JS, no dependencies, everything served by the API itself.
 *
 * Data: GET /api/v1/symbols (picker), /api/v1/grid/{symbol}?window= (HeatmapGrid.to_dict: x = time
 * edges ms, y = price edges, z / z_long / z_short = rows per price of values per time column,
 * candles = [ms, open, high, low, close], markers = the bot's entries and exits) and
 * /api/v1/clusters/{symbol}?min_strength=&max_distance=; both with &exchanges=a,b when some venue boxes are
 * unticked (body[data-exchanges] says which were asked; "" = every venue). Inside a running bot (or serve --config), the bot's
 * panel: /api/v1/positions, /api/v1/trades?limit=10 and /api/v1/equity, when /api/v1/status names books.
 * After each successful draw: body[data-ready="1"] and body[data-drawn-symbol=SYMBOL]; after the bot's panel:
 * body[data-bot="ready"|"none"] (tests wait on them).
 * The Layer toggle (observed / estimated / both): /api/v1/estimated/{symbol}?price= (issue 14), drawn as hatched
 * bands of open notional per price from the right edge, labelled "estimated" with the bracket date and whether
 * validated; body[data-layer] is the layer drawn, body[data-estimated]="ready"|"none"|"missing"|"error" (none: the
 * server keeps no layer, the toggle says why and stays on observed; missing: no levels for this symbol).
 * The tabs (issue 15): Combined (order-book depth behind the liquidations, walls), Liquidity (depth, walls and the
 * price only), Liquidations (the observed/estimated map alone, as before). Depth: /api/v1/depth/{symbol}?window=
 * (times x prices of bid/ask notional, and the walls), drawn Bookmap-like as a heat behind the price: bids blue, asks
 * orange; walls as solid lines while they stand, ● where one was filled, ✕ where pulled. body[data-tab] is the tab
 * drawn, body[data-depth]="ready"|"none"|"missing"|"error" (none: the server keeps no liquidity layer), body[data-walls]
 * the walls drawn; state.wallsDrawn their [x0, x1, y] on the canvas (tests read them).
 */
"use strict";

// viridis, 256 entries (matplotlib's), purple (nothing) to yellow (the most).
const VIRIDIS_HEX =
  "44015444025645045745055946075a46085c460a5d460b5e470d60470e61471063471164471365481467481668481769" +
  "48186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979472a7a472c7a" +
  "472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84433d84433e85423f85" +
  "4240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a3d4e8a3c4f8a3c508b3b518b" +
  "3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d355e8d355f8d34608d34618d33628d" +
  "33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e" +
  "2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e297b8e287c8e287d8e277e8e277f8e27808e26818e" +
  "26828e26828e25838e25848e25858e24868e24878e23888e23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d" +
  "21918c20928c20928c20938c1f948c1f958b1f968b1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f88" +
  "1fa0881fa1881fa1871fa28720a38620a48621a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad81" +
  "28ae8029af7f2ab07f2cb17e2db27d2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc74" +
  "3fbc7340bd7242be7144bf7046c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc863" +
  "5ec96260ca6063cb5f65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d" +
  "84d44b86d54989d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32" +
  "addc30b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21a" +
  "d8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723fde725";
const VIRIDIS = Array.from({ length: 256 }, (_, i) => "#" + VIRIDIS_HEX.slice(i * 6, i * 6 + 6));
const LOG_DECADES = 3; // the log scale spans three decades below the brightest cell, as the PNG picture
const LONG = "#ff4d5e", SHORT = "#2bd97c";
const EST_LONG = "#ff6ad5", EST_SHORT = "#6ac8ff"; // estimated levels: apart from viridis and the observed red/green
const DEPTH_BG = [13, 16, 32], DEPTH_BID = [60, 140, 255], DEPTH_ASK = [255, 154, 0]; // depth heat, apart from viridis
const WALL_BID = "#b8dcff", WALL_ASK = "#ffd9a8";
const MAX_LISTED = 200; // symbols rendered in the picker at once; the search narrows the rest

const $ = (id) => document.getElementById(id);
const el = {
  search: $("symbol-search"), list: $("symbol-list"), window: $("window"), scale: $("scale"), side: $("side"),
  minStrength: $("min-strength"), maxDistance: $("max-distance"), auto: $("auto"), interval: $("interval"),
  refresh: $("refresh"), status: $("status"), error: $("error"), canvas: $("heatmap"), tip: $("tip"),
  rows: $("cluster-rows"), count: $("cluster-count"), titleSymbol: $("title-symbol"), titleInfo: $("title-info"),
  bot: $("bot"), botSummary: $("bot-summary"), equity: $("equity"), positionRows: $("position-rows"),
  positionCount: $("position-count"), tradeRows: $("trade-rows"),
  venues: [...document.querySelectorAll('#venues input[name="venue"]')], venueHealth: $("venue-health"),
  layer: $("layer"), layerState: $("layer-state"), estimatedLabel: $("estimated-label"),
  tabs: [...document.querySelectorAll('#tabs [role="tab"]')], depthState: $("depth-state"),
  statsSummary: $("stats-summary"),
};
const VENUE_ABBR = { binance: "BN", bybit: "BY", okx: "OK" };

const state = {
  symbols: [], symbol: null, grid: null, clusters: null, price: null,
  inFlight: null, // the AbortController of the load under way
  timer: null, layout: null, active: -1,
  bot: null, // {positions, trades, equity} of the bot whose books the server reads; null: none
  hasBooks: undefined, // whether the server reads a bot's books (asked once, from /api/v1/status)
  estimated: null, // the /api/v1/estimated answer of the drawn symbol; null: none
  noLayer: null, // why the server has no estimated layer (its 404 detail), once it said so
  tab: "combined", // combined | liquidity | liquidations
  depth: null, // the /api/v1/depth answer of the drawn symbol; null: none
  noDepth: null, // why the server has no liquidity layer, once it said so
  liquidityKept: undefined, // whether the server keeps a liquidity layer (asked once, from /api/v1/unified)
  wallsDrawn: [],
  density: null, // the /api/v1/density answer of the drawn symbol (the side profile); null: none
  stats: null, // the /api/v1/stats answer of the drawn symbol (the summary); null: none
};

// ---------- formatting ----------
function fmtPrice(p) {
  if (p == null || !isFinite(p)) return "–";
  if (p >= 1000) return p.toLocaleString("en-US", { maximumFractionDigits: 1 });
  const digits = Math.min(8, Math.max(2, 4 - Math.floor(Math.log10(p))));
  return p.toFixed(digits).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}
function fmtUsd(v) {
  for (const [lim, suf] of [[1e9, "B"], [1e6, "M"], [1e3, "k"]]) if (Math.abs(v) >= lim) return "$" + (v / lim).toPrecision(3) + suf;
  return "$" + v.toPrecision(3);
}
const pad = (n) => String(n).padStart(2, "0");
const fmtTime = (ms) => { const d = new Date(ms); return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()); };
const fmtDate = (ms) => new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

// ---------- fetching ----------
class ApiError extends Error {}

async function getJson(url, signal) {
  let res;
  try {
    res = await fetch(url, { signal, headers: { Accept: "application/json" } });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError("cannot reach the server (" + e.message + ")");
  }
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const what = body && body.error ? body.error + (body.detail ? ": " + body.detail : "") : res.statusText;
    throw new ApiError(res.status + " " + what);
  }
  if (body == null) throw new ApiError("the server sent no JSON for " + url);
  return body;
}

function showError(msg) {
  el.error.textContent = msg || "";
  el.error.hidden = !msg;
}

/* The venue boxes as the exchanges parameter: "" when every box is ticked (every venue, the default view),
 * null when none is (nothing to ask). */
function venueParam() {
  const on = el.venues.filter((b) => b.checked).map((b) => b.value);
  if (!on.length) return null;
  return on.length === el.venues.length ? "" : on.join(",");
}

function withVenues(q) {
  const v = venueParam();
  if (v) q.set("exchanges", v);
  return q;
}

function clusterQuery() {
  const q = new URLSearchParams({ min_strength: String(Number(el.minStrength.value) || 0) });
  if (el.maxDistance.value !== "") q.set("max_distance", el.maxDistance.value);
  return withVenues(q);
}

/* Load the grid and the clusters of the current symbol. A user action (force) aborts a load under way;
 * the auto-refresh skips its turn instead, so fetches never pile up. */
async function load(force) {
  if (!state.symbol) return;
  if (state.inFlight) {
    if (!force) { el.status.textContent = "busy, refresh skipped"; return; }
    state.inFlight.abort();
  }
  if (venueParam() === null) { showError("tick at least one venue"); return; }
  const ctl = new AbortController();
  state.inFlight = ctl;
  const symbol = state.symbol;
  const sym = encodeURIComponent(symbol);
  el.status.textContent = "loading…";
  document.body.dataset.loading = "1";
  try {
    const [grid, clusters, density, stats] = await Promise.all([
      getJson(`/api/v1/grid/${sym}?${withVenues(new URLSearchParams({ window: el.window.value }))}`, ctl.signal),
      getJson(`/api/v1/clusters/${sym}?${clusterQuery()}`, ctl.signal),
      getJson(`/api/v1/density/${sym}`, ctl.signal),
      getJson(`/api/v1/stats/${sym}`, ctl.signal),
    ]);
    if (ctl.signal.aborted) return;
    state.grid = grid;
    state.density = density;
    state.stats = stats;
    state.clusters = clusters.clusters || [];
    state.price = clusters.price != null ? clusters.price : lastClose(grid);
    document.body.dataset.exchanges = venueParam() || "";
    if (!state.keepNotice) showError("");
    state.keepNotice = false;
    await loadEstimated(symbol, ctl.signal);
    if (ctl.signal.aborted) return;
    await loadDepth(symbol, ctl.signal);
    if (ctl.signal.aborted) return;
    render();
    el.status.textContent = "updated " + fmtTime(Date.now()) + " UTC";
    loadBot(ctl.signal);
    loadVenueHealth(ctl.signal);
  } catch (e) {
    if (e.name === "AbortError") return;
    showError(symbol + ": " + (e instanceof ApiError ? e.message : String(e)));
    if (document.body.dataset.drawnSymbol !== symbol) clearChart(symbol); // never show another symbol's map
    el.status.textContent = "error";
  } finally {
    if (state.inFlight === ctl) { state.inFlight = null; delete document.body.dataset.loading; }
  }
}

/* The estimated levels of the symbol, when the Layer toggle asks for them. A server without a layer says why
 * (404 "no estimated layer"): the toggle goes back to observed, its estimated choices are disabled and the reason
 * shown beside it. A symbol without levels leaves the observed map drawn and says so. */
async function loadEstimated(symbol, signal) {
  state.estimated = null;
  if (el.layer.value === "observed") { delete document.body.dataset.estimated; return; }
  const q = new URLSearchParams();
  if (state.price != null && state.price > 0) q.set("price", String(state.price));
  try {
    state.estimated = await getJson(`/api/v1/estimated/${encodeURIComponent(symbol)}?${q}`, signal);
    el.layerState.textContent = "";
    document.body.dataset.estimated = "ready";
  } catch (e) {
    if (e.name === "AbortError") throw e;
    const msg = String(e.message);
    if (msg.startsWith("404 no estimated layer")) {
      state.noLayer = msg.replace(/^404 no estimated layer: /, "");
      el.layer.value = "observed";
      [...el.layer.options].forEach((o) => { o.disabled = o.value !== "observed"; });
      el.layer.title = "no estimated layer: " + state.noLayer;
      el.layerState.textContent = "estimated: off (" + state.noLayer + ")";
      document.body.dataset.estimated = "none";
    } else if (msg.startsWith("404")) {
      el.layerState.textContent = "estimated: " + msg.replace(/^404 no estimated levels: /, "");
      document.body.dataset.estimated = "missing";
    } else {
      el.layerState.textContent = "estimated: " + msg;
      document.body.dataset.estimated = "error";
    }
  }
}

/* The order-book depth of the symbol (tabs Combined and Liquidity). A server without a liquidity layer says why
 * (the unified answer's no_liquidity_layer warning, asked once): the tabs then draw the liquidations only and say so. */
async function loadDepth(symbol, signal) {
  state.depth = null;
  if (state.tab === "liquidations") { delete document.body.dataset.depth; el.depthState.textContent = ""; return; }
  if (state.noDepth === null && state.liquidityKept === undefined) {
    // asked once: a server without the layer says so in the unified answer (a 200), never with a failed request
    const unified = await getJson(`/api/v1/unified/${encodeURIComponent(symbol)}`, signal);
    const off = (unified.insights.warnings || []).find((w) => w.code === "no_liquidity_layer");
    state.liquidityKept = !off;
    if (off) state.noDepth = off.message;
  }
  if (state.noDepth !== null) {
    el.depthState.textContent = "depth: off";
    el.depthState.title = state.noDepth;
    document.body.dataset.depth = "none";
    return;
  }
  try {
    state.depth = await getJson(`/api/v1/depth/${encodeURIComponent(symbol)}?window=${el.window.value}`, signal);
    el.depthState.textContent = "";
    document.body.dataset.depth = "ready";
  } catch (e) {
    if (e.name === "AbortError") throw e;
    const msg = String(e.message);
    if (msg.startsWith("404 no liquidity layer")) {
      state.noDepth = msg.replace(/^404 no liquidity layer: /, "");
      el.depthState.textContent = "depth: off";
      el.depthState.title = state.noDepth;
      document.body.dataset.depth = "none";
    } else {
      el.depthState.textContent = "depth: " + msg.replace(/^404 [a-z ]+: /, "");
      document.body.dataset.depth = msg.startsWith("404") ? "missing" : "error";
    }
  }
}

/* Each venue's health beside its box, from /api/v1/status: the events the heatmap holds from it and, inside a
   running bot, its stream (as of the last heartbeat: connected, or why not). */
async function loadVenueHealth(signal) {
  let st;
  try { st = await getJson("/api/v1/status", signal); } catch (e) { return; }
  const counts = (st.heatmap && st.heatmap.accepted_by_venue) || {};
  const streams = {};
  ((st.stream && st.stream.venues) || []).forEach((v) => { streams[v.venue] = v; });
  el.venueHealth.innerHTML = el.venues.map((box) => {
    const v = box.value, s = streams[v];
    let state = "";
    if (s) state = !s.streaming ? " not streamed" : s.connected ? " connected" : " disconnected";
    const cls = !s ? "" : s.connected ? "up" : "down";
    return `<span class="${cls}" data-venue="${esc(v)}">${VENUE_ABBR[v] || esc(v)} ${(counts[v] || 0).toLocaleString("en-US")}` +
      `${state}</span>`;
  }).join(" · ");
}

/* The bot's panel: its open positions, recent trades and equity curve, when the server reads its books. */
async function loadBot(signal) {
  if (state.hasBooks === undefined) { // asked once: a server over a recording reads no books (status says books: null)
    try { state.hasBooks = (await getJson("/api/v1/status", signal)).books != null; } catch (e) { return; }
  }
  if (!state.hasBooks) { document.body.dataset.bot = "none"; return; }
  let positions, trades, equity;
  try {
    [positions, trades, equity] = await Promise.all([
      getJson("/api/v1/positions", signal), getJson("/api/v1/trades?limit=10", signal), getJson("/api/v1/equity", signal),
    ]);
  } catch (e) {
    if (e.name === "AbortError") return;
    state.bot = null;
    el.bot.hidden = true;
    document.body.dataset.bot = String(e.message).startsWith("503") ? "none" : "error";
    return;
  }
  state.bot = { positions: positions.positions || [], trades: trades.trades || [], equity };
  renderBot();
}

const signed = (v) => (v == null ? "–" : `<span class="${v >= 0 ? "gain" : "loss"}">${v >= 0 ? "+" : ""}${v.toFixed(2)}</span>`);

function renderBot() {
  const b = state.bot;
  if (!b) return;
  el.bot.hidden = false;
  const pts = b.equity.points || [];
  const last = pts.length ? pts[pts.length - 1] : null;
  el.botSummary.innerHTML = last ? `equity ${last[1].toFixed(2)} USDT ` + signed(last[1] - b.equity.starting_wallet) : "no snapshot yet";
  el.positionCount.textContent = `(${b.positions.length})`;
  el.positionRows.innerHTML = b.positions.length ? b.positions.map((p) =>
    `<tr data-symbol="${esc(p.symbol)}" data-side="${p.side}"><td>${esc(p.symbol)}</td><td class="pos-${p.side}">${p.side}</td>` +
    `<td class="num">${fmtPrice(p.entry_price)}</td><td class="num">${fmtPrice(p.price)}</td>` +
    `<td class="num">${signed(p.unrealized)}</td></tr>`).join("")
    : '<tr><td colspan="5" class="empty">no open position</td></tr>';
  el.tradeRows.innerHTML = b.trades.length ? b.trades.map((t) =>
    `<tr data-symbol="${esc(t.symbol)}" data-reason="${esc(t.reason)}"><td>${esc(t.symbol)}</td><td class="pos-${t.side}">${t.side}</td>` +
    `<td class="num">${fmtPrice(t.exit_price)}</td><td>${esc(t.reason)}</td><td class="num">${signed(t.net_pnl)}</td></tr>`).join("")
    : '<tr><td colspan="5" class="empty">no closed trade yet</td></tr>';
  drawEquity(pts, b.equity.starting_wallet);
  document.body.dataset.bot = "ready";
}

function drawEquity(pts, start) {
  const cv = el.equity, dpr = window.devicePixelRatio || 1, W = cv.clientWidth, H = cv.clientHeight;
  if (!W || !H) return;
  cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr);
  const ctx = cv.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  cv.dataset.points = String(pts.length);
  ctx.font = "10px system-ui, sans-serif"; ctx.fillStyle = "#8b8fa3"; ctx.textBaseline = "top";
  if (pts.length < 2) { ctx.fillText(pts.length ? "one snapshot so far" : "no snapshot yet", 6, 6); return; }
  const t0 = pts[0][0], t1 = pts[pts.length - 1][0];
  let lo = start, hi = start;
  for (const p of pts) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); }
  if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
  const pad = (hi - lo) * 0.08, L = { x0: 4, x1: W - 4, y0: 16, y1: H - 4 };
  const X = (t) => L.x0 + (t1 > t0 ? (t - t0) / (t1 - t0) : 1) * (L.x1 - L.x0);
  const Y = (v) => L.y1 - (v - lo + pad) / (hi - lo + 2 * pad) * (L.y1 - L.y0);
  ctx.setLineDash([3, 3]); ctx.strokeStyle = "rgba(255,255,255,0.3)"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(L.x0, Y(start)); ctx.lineTo(L.x1, Y(start)); ctx.stroke(); ctx.setLineDash([]);
  ctx.strokeStyle = pts[pts.length - 1][1] >= start ? SHORT : LONG; ctx.lineWidth = 1.5;
  ctx.beginPath();
  pts.forEach((p, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, X(p[0]), Y(p[1])));
  ctx.stroke();
  ctx.fillText(`${fmtDate(t0)} → ${fmtTime(t1)} · start ${start.toFixed(0)}`, 6, 3);
}

function schedule() {
  clearInterval(state.timer);
  state.timer = null;
  if (el.auto.checked) {
    const s = Math.max(2, Number(el.interval.value) || 10);
    state.timer = setInterval(() => load(false), s * 1000);
  }
}

// ---------- symbol picker ----------
async function loadSymbols() {
  try {
    const body = await getJson("/api/v1/symbols");
    state.symbols = body.symbols || [];
  } catch (e) {
    showError("symbols: " + e.message);
    return;
  }
  const fromHash = decodeURIComponent(location.hash.slice(1)).toUpperCase();
  const has = (s) => state.symbols.some((x) => x.symbol === s);
  const busiest = state.symbols.slice().sort((a, b) => (b.events || 0) - (a.events || 0))[0];
  const first = has(fromHash) ? fromHash : has("BTCUSDT") ? "BTCUSDT" : busiest && busiest.symbol;
  if (fromHash && !has(fromHash)) {
    showError(`${fromHash} is not tracked; showing ${first || "nothing"}`);
    state.keepNotice = true; // until the next successful load after this one
  }
  if (first) selectSymbol(first);
  else showError("no symbols tracked yet");
}

function matches(query) {
  const q = query.trim().toUpperCase().replace(/[/:]/g, "");
  const out = [];
  for (const s of state.symbols) {
    const i = q ? s.symbol.indexOf(q) : 0;
    if (i >= 0) out.push([i === 0 ? 0 : 1, -(s.events || 0), s]);
  }
  out.sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2].symbol < b[2].symbol ? -1 : 1));
  return out.map((m) => m[2]);
}

// One innerHTML per keystroke, at most MAX_LISTED rows: stays instant with hundreds of symbols.
function renderList() {
  const found = matches(el.search.value);
  const shown = found.slice(0, MAX_LISTED);
  state.listed = shown;
  state.active = shown.length ? Math.min(Math.max(state.active, 0), shown.length - 1) : -1;
  let html = shown.map((s, i) =>
    `<li role="option" data-symbol="${esc(s.symbol)}" class="${i === state.active ? "active" : ""}` +
    `${s.symbol === state.symbol ? " current" : ""}"><span>${esc(s.symbol)}</span>` +
    `<small>${s.events || 0} liq.${s.price != null ? " · " + fmtPrice(s.price) : ""}</small></li>`).join("");
  if (found.length > shown.length) html += `<li class="more">${found.length - shown.length} more: type to narrow</li>`;
  if (!found.length) html = `<li class="more">no symbol matches</li>`;
  el.list.innerHTML = html;
  el.list.hidden = false;
  el.search.setAttribute("aria-expanded", "true");
}

function closeList() {
  el.list.hidden = true;
  el.search.setAttribute("aria-expanded", "false");
}

function selectSymbol(symbol) {
  state.symbol = symbol;
  el.search.value = symbol;
  el.titleSymbol.textContent = symbol;
  history.replaceState(null, "", "#" + symbol);
  closeList();
  load(true);
}

el.search.addEventListener("focus", () => { el.search.select(); state.active = -1; renderList(); });
el.search.addEventListener("input", () => { state.active = 0; renderList(); });
el.search.addEventListener("keydown", (e) => {
  const n = (state.listed || []).length;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    if (el.list.hidden) renderList();
    state.active = (state.active + (e.key === "ArrowDown" ? 1 : n - 1)) % Math.max(n, 1);
    renderList();
    const a = el.list.querySelector(".active");
    if (a) a.scrollIntoView({ block: "nearest" });
  } else if (e.key === "Enter") {
    const pick = state.listed && state.listed[Math.max(state.active, 0)];
    if (pick) { selectSymbol(pick.symbol); el.search.blur(); }
  } else if (e.key === "Escape") {
    el.search.value = state.symbol || ""; closeList(); el.search.blur();
  }
});
el.list.addEventListener("mousedown", (e) => {
  const li = e.target.closest("li[data-symbol]");
  if (li) { e.preventDefault(); selectSymbol(li.dataset.symbol); el.search.blur(); }
});
el.search.addEventListener("blur", () => setTimeout(() => {
  if (document.activeElement !== el.search) { closeList(); el.search.value = state.symbol || ""; }
}, 100));

// ---------- drawing ----------
function lastClose(grid) {
  const c = grid && grid.candles;
  return c && c.length ? c[c.length - 1][4] : null;
}

function clearChart(symbol) {
  state.grid = null; state.clusters = []; state.layout = null; state.estimated = null; state.depth = null;
  state.density = null; state.stats = null;
  state.wallsDrawn = [];
  renderEstimatedLabel(null);
  const ctx = el.canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, el.canvas.width, el.canvas.height);
  el.titleInfo.textContent = "nothing drawn";
  renderClusters();
  delete document.body.dataset.drawnSymbol;
  delete el.canvas.dataset.drawnSymbol;
}

function niceStep(span, target) {
  const raw = span / target, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function colourIndex(v, vmax, scale) {
  if (!(v > 0) || !(vmax > 0)) return -1;
  let f = v / vmax;
  if (scale === "sqrt") f = Math.sqrt(f);
  else if (scale === "log") f = (Math.log10(f) + LOG_DECADES) / LOG_DECADES;
  if (f <= 0) return -1;
  return Math.min(255, Math.round(f * 255));
}

function render() {
  const g = state.grid;
  if (!g) return;
  const cv = el.canvas, dpr = window.devicePixelRatio || 1;
  const W = cv.clientWidth, H = cv.clientHeight;
  if (cv.width !== Math.round(W * dpr) || cv.height !== Math.round(H * dpr)) {
    cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr);
  }
  const ctx = cv.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  const L = { x0: 8, y0: 10, x1: W - 78, y1: H - 26 };
  state.layout = L;
  const tab = state.tab, depth = tab === "liquidations" ? null : state.depth;
  const x = g.x, y = g.y, z = g[el.side.value] || g.z;
  let lo = y[0], hi = y[y.length - 1];
  if (tab === "liquidity" && depth && depth.prices.length > 1) { lo = depth.prices[0]; hi = depth.prices[depth.prices.length - 1]; }
  if (tab === "combined" && depth) { // the walls near the price stay in view: the frame widens to them (3 % at most)
    for (const w of depth.walls || []) {
      if (state.price && Math.abs(w.price / state.price - 1) <= 0.03) { lo = Math.min(lo, w.price * 0.999); hi = Math.max(hi, w.price * 1.001); }
    }
  }
  const t0 = x[0], t1 = x[x.length - 1], lp0 = Math.log(lo), lp1 = Math.log(hi);
  const X = (ms) => L.x0 + (ms - t0) / (t1 - t0) * (L.x1 - L.x0);
  const Y = (p) => L.y1 - (Math.log(p) - lp0) / (lp1 - lp0) * (L.y1 - L.y0);
  L.X = X; L.Y = Y; L.t0 = t0; L.t1 = t1; L.lp0 = lp0; L.lp1 = lp1;

  // cells
  ctx.fillStyle = depth ? `rgb(${DEPTH_BG})` : VIRIDIS[0];
  ctx.fillRect(L.x0, L.y0, L.x1 - L.x0, L.y1 - L.y0);
  let vmax = 0;
  for (const row of z) for (const v of row) if (v > vmax) vmax = v;
  const scale = el.scale.value;
  if (depth) drawDepth(ctx, depth, X, Y, L, scale);
  const est = tab === "liquidity" ? null : state.estimated;
  const layer = est ? el.layer.value : "observed", heat = layer !== "estimated" && tab !== "liquidity";
  if (!heat) vmax = 0;
  for (let i = 0; heat && i < z.length; i++) {
    const ya = Y(y[i + 1]), yb = Y(y[i]), row = z[i];
    for (let j = 0; j < row.length; j++) {
      const k = colourIndex(row[j], vmax, scale);
      if (k <= 0) continue;
      const xa = X(x[j]), xb = X(x[j + 1]);
      ctx.fillStyle = VIRIDIS[k];
      ctx.fillRect(xa, ya, xb - xa + 0.5, yb - ya + 0.5); // +0.5: no hairline gaps between cells
    }
  }

  ctx.save();
  ctx.beginPath(); ctx.rect(L.x0, L.y0, L.x1 - L.x0, L.y1 - L.y0); ctx.clip();
  if (est) drawEstimated(ctx, est, Y, L);
  drawPrice(ctx, g, X, Y, L);
  if (heat) state.densityDrawn = drawDensity(ctx, state.density, Y, L);
  if (heat) drawClusters(ctx, X, Y, L);
  state.wallsDrawn = depth ? drawWalls(ctx, depth, X, Y, L) : [];
  drawMarkers(ctx, g, X, Y);
  ctx.restore();
  drawAxes(ctx, g, X, Y, L, W, H);
  if (heat) drawLegend(ctx, L, vmax, scale);
  if (est) drawEstimatedLabel(ctx, est, L, heat ? 40 : 0);
  renderClusters();
  renderEstimatedLabel(est);
  document.body.dataset.layer = layer;
  document.body.dataset.tab = tab;
  document.body.dataset.walls = String(state.wallsDrawn.length);
  document.body.dataset.density = heat && state.densityDrawn ? "drawn" : "none";

  const sideName = { z: "longs + shorts", z_long: "longs", z_short: "shorts" }[el.side.value];
  el.titleInfo.textContent = (tab === "liquidity" ? "order-book depth · " : heat ? "" : "estimated levels only · ") +
    (depth && tab === "combined" ? "depth behind · " : "") +
    `${fmtDate(t0)} → ${fmtTime(t1)} · ${g.events} liquidations · ${sideName}, ${scale}` +
    (g.time_decay_minutes ? ` · decay ${g.time_decay_minutes} min` : "") +
    (g.price_source === "liquidations" ? " · price line: liquidation fills" :
      g.price_source === "marks" ? " · price line: mark prices" : "") +
    (g.markers && g.markers.length ? ` · ${g.markers.length} entries/exits of the bot` : "");
  document.body.dataset.drawnSymbol = state.symbol;
  el.canvas.dataset.drawnSymbol = state.symbol;
  document.body.dataset.ready = "1";
}

/* The depth heat: per time column and price bin, the bid (blue) or ask (orange) notional as a colour between the
 * background and the side's, on the page's scale (linear, sqrt, log) of the largest cell. Bins: from a price to the
 * next one up (the last one as wide as the one below). */
function drawDepth(ctx, d, X, Y, L, scale) {
  const T = d.times.length, P = d.prices.length;
  if (!T || !P) return;
  let vmax = 0;
  for (const side of [d.bid, d.ask]) for (const col of side) for (const v of col) if (v > vmax) vmax = v;
  if (!(vmax > 0)) return;
  const top = P > 1 ? d.prices[P - 1] * d.prices[P - 1] / d.prices[P - 2] : d.prices[0] * 1.0005;
  for (let i = 0; i < T; i++) {
    const xa = Math.max(L.x0, X(d.times[i])), xb = Math.min(L.x1, X(d.times[i] + d.step_ms));
    if (xb <= L.x0 || xa >= L.x1) continue;
    for (let j = 0; j < P; j++) {
      const b = d.bid[i][j], a = d.ask[i][j], v = Math.max(b, a);
      const k = colourIndex(v, vmax, scale);
      if (k < 0) continue;
      const t = 0.2 + 0.8 * k / 255, full = b >= a ? DEPTH_BID : DEPTH_ASK;
      const rgb = DEPTH_BG.map((c, n) => Math.round(c + (full[n] - c) * t));
      const ya = Y(j + 1 < P ? d.prices[j + 1] : top), yb = Y(d.prices[j]);
      if (yb < L.y0 || ya > L.y1) continue;
      ctx.fillStyle = `rgb(${rgb})`;
      ctx.fillRect(xa, ya, xb - xa + 0.5, yb - ya + 0.5);
    }
  }
}

/* The walls: a solid line at the wall's price from when it was first seen to when it went (or now), ● at its end
 * when filled, ✕ when pulled. Returns [x0, x1, y] of each wall drawn. */
function drawWalls(ctx, d, X, Y, L) {
  const drawn = [];
  for (const w of d.walls || []) {
    const yv = Y(w.price);
    if (yv < L.y0 || yv > L.y1) continue;
    const xa = Math.max(L.x0, X(w.first_seen_ms)), xb = Math.min(L.x1, X(w.ended_ms != null ? w.ended_ms : L.t1));
    if (xb < xa) continue;
    const colour = w.side === "bid" ? WALL_BID : WALL_ASK;
    ctx.lineCap = "butt";
    ctx.strokeStyle = "rgba(0,0,0,0.7)"; ctx.lineWidth = 6;
    ctx.beginPath(); ctx.moveTo(xa, yv); ctx.lineTo(xb, yv); ctx.stroke();
    ctx.strokeStyle = colour; ctx.lineWidth = 3;
    ctx.beginPath(); ctx.moveTo(xa, yv); ctx.lineTo(xb, yv); ctx.stroke();
    if (w.state === "filled") {
      ctx.fillStyle = colour; ctx.beginPath(); ctx.arc(xb, yv, 5, 0, 2 * Math.PI); ctx.fill();
    } else if (w.state === "pulled") {
      ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.beginPath();
      ctx.moveTo(xb - 5, yv - 5); ctx.lineTo(xb + 5, yv + 5); ctx.moveTo(xb - 5, yv + 5); ctx.lineTo(xb + 5, yv - 5);
      ctx.stroke();
    }
    drawn.push([xa, xb, yv]);
  }
  return drawn;
}

function selectTab(tab) {
  state.tab = tab;
  el.tabs.forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === tab)));
  load(true);
}

// A diagonal hatch in the side's colour (the estimated bands' fill), made once per colour.
const hatches = {};
function hatch(ctx, colour) {
  if (!hatches[colour]) {
    const tile = document.createElement("canvas"); tile.width = tile.height = 8;
    const t = tile.getContext("2d");
    t.strokeStyle = colour; t.lineWidth = 1.5; t.globalAlpha = 0.8;
    t.beginPath(); t.moveTo(0, 8); t.lineTo(8, 0); t.moveTo(-2, 2); t.lineTo(2, -2); t.moveTo(6, 10); t.lineTo(10, 6); t.stroke();
    hatches[colour] = ctx.createPattern(tile, "repeat");
  }
  return hatches[colour];
}

/* The estimated levels: per bin, a hatched band with an outline from the right edge, its width the bin's open
 * notional over the heaviest bin in view (30 % of the plot at most); longs and shorts in their own colours. */
function drawEstimated(ctx, est, Y, L) {
  const lv = est.levels, bw = est.range.bin_width, reach = 0.3 * (L.x1 - L.x0);
  const p0 = Math.exp(L.lp0), p1 = Math.exp(L.lp1);
  let peak = 0;
  lv.prices.forEach((p, i) => { if (p >= p0 && p <= p1) peak = Math.max(peak, lv.long[i], lv.short[i]); });
  if (!(peak > 0)) return;
  for (const [values, colour] of [[lv.long, EST_LONG], [lv.short, EST_SHORT]]) {
    ctx.fillStyle = hatch(ctx, colour); ctx.strokeStyle = colour; ctx.lineWidth = 1;
    lv.prices.forEach((p, i) => {
      const v = values[i];
      if (!(v > 0) || p < p0 || p > p1) return;
      const w = v / peak * reach, ya = Y(p * (1 + bw / 2)), yb = Y(p / (1 + bw / 2));
      ctx.fillRect(L.x1 - w, ya, w, Math.max(1, yb - ya));
      ctx.strokeRect(L.x1 - w + 0.5, ya + 0.5, w - 1, Math.max(1, yb - ya) - 1);
    });
  }
}

function drawEstimatedLabel(ctx, est, L, below) {
  const text = est.label, x0 = L.x0 + 10, y0 = L.y0 + 10 + below;
  ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "middle";
  const w = ctx.measureText(text).width + 12;
  ctx.fillStyle = "rgba(15,17,26,0.85)"; ctx.fillRect(x0 - 6, y0 - 2, w, 18);
  ctx.strokeStyle = EST_LONG; ctx.setLineDash([3, 2]); ctx.strokeRect(x0 - 5.5, y0 - 1.5, w - 1, 17); ctx.setLineDash([]);
  ctx.fillStyle = "#fff"; ctx.fillText(text, x0, y0 + 7);
}

function renderEstimatedLabel(est) {
  el.estimatedLabel.hidden = !est;
  if (!est) { el.estimatedLabel.textContent = ""; return; }
  el.estimatedLabel.textContent = est.label;
  el.estimatedLabel.title = `brackets as of ${est.brackets.as_of} (${est.brackets.source}); ${est.validation.summary}; ` +
    `${est.bars} bars to ${fmtDate(est.last_bar_ms)}; window ${est.model.window}, attribution ${est.model.attribution}`;
  el.estimatedLabel.dataset.asOf = est.brackets.as_of;
  el.estimatedLabel.dataset.validated = String(est.validation.validated);
  el.estimatedLabel.classList.toggle("not-validated", !est.validation.validated);
}

function drawPrice(ctx, g, X, Y, L) {
  const c = g.candles || [];
  if (!c.length) return;
  const colW = (L.x1 - L.x0) / (g.x.length - 1);
  // wicks (high-low) faintly, the closes as a white line with a dark edge so it reads on yellow too
  ctx.strokeStyle = "rgba(255,255,255,0.35)"; ctx.lineWidth = Math.max(1, Math.min(3, colW * 0.4));
  ctx.beginPath();
  for (const [ms, , hi, lo] of c) { const xm = X(ms) + colW / 2; ctx.moveTo(xm, Y(hi)); ctx.lineTo(xm, Y(lo)); }
  ctx.stroke();
  const path = () => { ctx.beginPath(); c.forEach(([ms, , , , cl], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, X(ms) + colW / 2, Y(cl))); };
  ctx.lineJoin = "round";
  path(); ctx.strokeStyle = "rgba(0,0,0,0.6)"; ctx.lineWidth = 3.5; ctx.stroke();
  path(); ctx.strokeStyle = "#fff"; ctx.lineWidth = 1.5; ctx.stroke();
}

// The bot's entries (a triangle pointing the trade's way: up for a long, down for a short) and exits (a ring).
function drawMarkers(ctx, g, X, Y) {
  for (const m of g.markers || []) {
    const xv = X(m.time), yv = Y(m.price), colour = m.side === "long" ? SHORT : LONG, up = m.side === "long";
    ctx.lineWidth = 2; ctx.strokeStyle = "#000"; ctx.fillStyle = colour;
    ctx.beginPath();
    if (m.kind === "entry") {
      ctx.moveTo(xv, up ? yv - 8 : yv + 8); ctx.lineTo(xv - 7, up ? yv + 5 : yv - 5); ctx.lineTo(xv + 7, up ? yv + 5 : yv - 5);
      ctx.closePath(); ctx.stroke(); ctx.fill();
    } else {
      ctx.arc(xv, yv, 6, 0, 2 * Math.PI); ctx.stroke();
      ctx.beginPath(); ctx.arc(xv, yv, 6, 0, 2 * Math.PI); ctx.strokeStyle = colour; ctx.lineWidth = 2.5; ctx.stroke();
    }
  }
}

function drawClusters(ctx, X, Y, L) {
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle"; ctx.textAlign = "left"; // the context keeps the last draw's settings
  const labelled = [];
  (state.clusters || []).forEach((c, i) => {
    const yv = Y(c.price_level);
    if (yv < L.y0 || yv > L.y1) return;
    const colour = c.side === "long" ? LONG : SHORT;
    const xa = Math.max(L.x0, X(c.first_event_ms || L.t0));
    ctx.setLineDash([6, 4]); ctx.lineWidth = 1 + 2 * (c.strength || 0); ctx.strokeStyle = colour;
    ctx.beginPath(); ctx.moveTo(xa, yv); ctx.lineTo(L.x1, yv); ctx.stroke();
    ctx.setLineDash([]);
    // the span as a bar at the right edge
    ctx.fillStyle = colour;
    const ylo = Y(c.price_low), yhi = Y(c.price_high);
    ctx.fillRect(L.x1 - (c.side === "long" ? 8 : 4), yhi, 4, Math.max(2, ylo - yhi));
    if (i < 8 && labelled.every((v) => Math.abs(v - yv) > 13)) {
      labelled.push(yv);
      const text = `${c.side === "long" ? "▼ long" : "▲ short"} ${fmtPrice(c.price_level)} · ${(c.strength || 0).toFixed(2)}`;
      const w = ctx.measureText(text).width + 8;
      const ly = yv - 10 < L.y0 + 8 ? yv + 10 : yv - 10; // above its line, below it at the top edge
      ctx.fillStyle = "rgba(15,17,26,0.85)"; ctx.fillRect(L.x1 - 14 - w, ly - 8, w, 16);
      ctx.fillStyle = colour; ctx.fillText(text, L.x1 - 10 - w, ly);
    }
  });
}

/* The side density profile (/api/v1/density): decayed liquidation notional per price, longs and shorts, drawn from the
 * left edge, its width the density over the peak in view (18 % of the plot at most). Returns whether it drew. */
function drawDensity(ctx, d, Y, L) {
  if (!d || !d.prices || d.prices.length < 2) return false;
  const p0 = Math.exp(L.lp0), p1 = Math.exp(L.lp1), reach = 0.18 * (L.x1 - L.x0);
  let peak = 0;
  d.prices.forEach((p, i) => { if (p >= p0 && p <= p1) peak = Math.max(peak, d.long[i], d.short[i]); });
  if (!(peak > 0)) return false;
  for (const [values, colour] of [[d.long, LONG], [d.short, SHORT]]) {
    ctx.beginPath(); ctx.moveTo(L.x0, Y(d.prices[0]));
    d.prices.forEach((p, i) => ctx.lineTo(L.x0 + values[i] / peak * reach, Y(p)));
    ctx.lineTo(L.x0, Y(d.prices[d.prices.length - 1])); ctx.closePath();
    ctx.globalAlpha = 0.28; ctx.fillStyle = colour; ctx.fill();
    ctx.globalAlpha = 0.9; ctx.lineWidth = 1.2; ctx.strokeStyle = colour; ctx.stroke();
    ctx.globalAlpha = 1;
  }
  return true;
}

function drawAxes(ctx, g, X, Y, L, W, H) {
  ctx.fillStyle = "#c9cbd6"; ctx.strokeStyle = "rgba(255,255,255,0.12)"; ctx.lineWidth = 1;
  ctx.font = "11px system-ui, sans-serif";
  // price, on the right
  const p0 = Math.exp(L.lp0), p1 = Math.exp(L.lp1), step = niceStep(p1 - p0, Math.max(3, (L.y1 - L.y0) / 55));
  ctx.textAlign = "left"; ctx.textBaseline = "middle";
  for (let p = Math.ceil(p0 / step) * step; p <= p1; p += step) {
    const yv = Math.round(Y(p)) + 0.5;
    ctx.beginPath(); ctx.moveTo(L.x0, yv); ctx.lineTo(L.x1 + 4, yv); ctx.stroke();
    ctx.fillText(fmtPrice(+p.toPrecision(12)), L.x1 + 6, yv);
  }
  // time (UTC), below
  const mins = (L.t1 - L.t0) / 60000, want = Math.max(2, (L.x1 - L.x0) / 90);
  const stepMin = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440].find((m) => mins / m <= want) || 1440;
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (let t = Math.ceil(L.t0 / (stepMin * 60000)) * stepMin * 60000; t <= L.t1; t += stepMin * 60000) {
    const xv = Math.round(X(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(xv, L.y0); ctx.lineTo(xv, L.y1 + 4); ctx.stroke();
    ctx.fillText(fmtTime(t), xv, L.y1 + 7);
  }
  ctx.textAlign = "right"; ctx.fillText("UTC", W - 4, L.y1 + 7);
  ctx.strokeStyle = "rgba(255,255,255,0.3)"; ctx.strokeRect(L.x0 + 0.5, L.y0 + 0.5, L.x1 - L.x0, L.y1 - L.y0);
  // the current price, tagged on the axis
  const p = state.price;
  if (p != null && p >= p0 && p <= p1) {
    const yv = Y(p);
    ctx.setLineDash([2, 3]); ctx.strokeStyle = "#fff";
    ctx.beginPath(); ctx.moveTo(L.x0, yv); ctx.lineTo(L.x1, yv); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = "#fff"; ctx.fillRect(L.x1 + 1, yv - 9, W - L.x1 - 2, 18);
    ctx.fillStyle = "#111"; ctx.textAlign = "left"; ctx.textBaseline = "middle"; ctx.font = "bold 11px system-ui, sans-serif";
    ctx.fillText(fmtPrice(p), L.x1 + 5, yv);
  }
}

function drawLegend(ctx, L, vmax, scale) {
  const w = 120, h = 8, x0 = L.x0 + 10, y0 = L.y0 + 10;
  ctx.fillStyle = "rgba(15,17,26,0.75)"; ctx.fillRect(x0 - 6, y0 - 6, w + 12, h + 26);
  for (let i = 0; i < w; i++) { ctx.fillStyle = VIRIDIS[Math.round(i / (w - 1) * 255)]; ctx.fillRect(x0 + i, y0, 1, h); }
  ctx.fillStyle = "#c9cbd6"; ctx.font = "10px system-ui, sans-serif"; ctx.textBaseline = "top";
  ctx.textAlign = "left"; ctx.fillText(scale === "log" ? fmtUsd(vmax / 10 ** LOG_DECADES) : "0", x0, y0 + h + 3);
  ctx.textAlign = "right"; ctx.fillText(vmax > 0 ? fmtUsd(vmax) : "no data", x0 + w, y0 + h + 3);
  ctx.textAlign = "center"; ctx.fillText(scale, x0 + w / 2, y0 + h + 3);
}

/* The symbol's summary (/api/v1/stats) beside the cluster list's title. */
function renderSummary() {
  const st = state.stats;
  if (!st) { el.statsSummary.textContent = ""; return; }
  const side = st.dominant_side ? `dominant <span class="${st.dominant_side}">${st.dominant_side}</span>` : "no dominant side";
  const z = st.max_z_score != null ? `max z ${st.max_z_score.toFixed(2)}`
    : `z-scores after ${st.min_history} samples (${st.history_events} so far)`;
  el.statsSummary.innerHTML = `${fmtUsd(st.total_notional || 0)} · ${side} · ` +
    `<span class="${st.high_risk_clusters ? "risk-high" : ""}">${st.high_risk_clusters} high risk</span> · ${z}`;
  el.statsSummary.dataset.highRisk = String(st.high_risk_clusters);
}

function riskCell(c) {
  if (c.z_score == null) return `<td class="num risk" title="no z-score yet: ${c.history_events || 0} history samples">–</td>`;
  const level = c.risk_level || "low";
  return `<td class="num risk risk-${level}" title="z-score against this symbol's own cluster history ` +
    `(${c.history_events} samples)">${c.z_score.toFixed(2)} ${level}</td>`;
}

function renderClusters() {
  const cs = state.clusters || [];
  renderSummary();
  el.count.textContent = `(${cs.length})`;
  el.rows.innerHTML = cs.length ? cs.map((c) => {
    // the heatmap reports no distance while it has no price of its own: use the page's current price then
    const d = c.distance_from_price != null ? c.distance_from_price
      : state.price ? Math.abs(c.price_level - state.price) / state.price * 100 : null;
    const dist = d == null ? "–" : d.toFixed(2) + " %";
    const side = c.side === "long" ? '<span class="long">▼ long</span>' : '<span class="short">▲ short</span>';
    const split = Object.entries(c.notional_by_venue || {});
    const total = c.total_notional || 1;
    const venues = split.map(([v, n]) => `${VENUE_ABBR[v] || esc(v)} ${Math.round(n / total * 100)}%`).join(" ");
    const venueTitle = split.map(([v, n]) => `${esc(v)} ${fmtUsd(n)}`).join(", ");
    return `<tr data-cluster="${esc(c.cluster_id)}" data-strength="${c.strength}"><td>${side}</td><td class="num">${fmtPrice(c.price_level)}</td>` +
      `<td class="num"><span class="sbar" style="--s:${(c.strength || 0).toFixed(3)}"></span>${(c.strength || 0).toFixed(2)}</td>` +
      `<td class="num">${dist}</td><td class="num" title="${c.liquidation_count} liquidations">` +
      `${fmtUsd(c.total_notional || 0)}</td><td class="venues" title="${venueTitle}" ` +
      `data-venues="${esc(split.map(([v]) => v).join(","))}">${venues}</td>${riskCell(c)}</tr>`;
  }).join("") : '<tr><td colspan="7" class="empty">no cluster passes the filters</td></tr>';
}

// hover: the cell under the pointer
el.canvas.addEventListener("mousemove", (e) => {
  const L = state.layout, g = state.grid;
  if (!L || !g) return;
  const r = el.canvas.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
  if (px < L.x0 || px > L.x1 || py < L.y0 || py > L.y1) { el.tip.hidden = true; return; }
  const ms = L.t0 + (px - L.x0) / (L.x1 - L.x0) * (L.t1 - L.t0);
  const price = Math.exp(L.lp0 + (L.y1 - py) / (L.y1 - L.y0) * (L.lp1 - L.lp0));
  const j = Math.min(g.x.length - 2, g.x.findIndex((t) => t > ms) - 1), i = Math.min(g.y.length - 2, g.y.findIndex((p) => p > price) - 1);
  if (i < 0 || j < 0) { el.tip.hidden = true; return; }
  el.tip.innerHTML = `${fmtTime(ms)} UTC · ${fmtPrice(price)}<br>longs ${fmtUsd(g.z_long[i][j])} · shorts ${fmtUsd(g.z_short[i][j])}`;
  el.tip.style.left = Math.min(px + 14, L.x1 - 180) + "px"; el.tip.style.top = py + 14 + "px";
  el.tip.hidden = false;
});
el.canvas.addEventListener("mouseleave", () => { el.tip.hidden = true; });

// ---------- controls ----------
let filterTimer = null;
const reloadSoon = () => { clearTimeout(filterTimer); filterTimer = setTimeout(() => load(true), 300); };
el.minStrength.addEventListener("input", reloadSoon);
el.maxDistance.addEventListener("input", reloadSoon);
el.venues.forEach((box) => box.addEventListener("change", () => load(true)));
el.window.addEventListener("change", () => load(true));
el.scale.addEventListener("change", render);
el.side.addEventListener("change", render);
el.layer.addEventListener("change", () => load(true));
el.tabs.forEach((b) => b.addEventListener("click", () => selectTab(b.dataset.tab)));
el.refresh.addEventListener("click", () => load(true));
el.auto.addEventListener("change", schedule);
el.interval.addEventListener("change", schedule);
let resizeTimer = null;
window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(render, 100); });

loadSymbols();
schedule();
