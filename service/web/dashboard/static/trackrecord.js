// The track record: a backtest of the whole history as served (knowledge
// "as_served": at each day, what the service said then, with what it knew then),
// scored against how the scenarios resolved. The latest finished one is shown;
// computing a new one needs a key with the admin scope. Beside it, the same window
// scored with the prequentially calibrated forecasts ("calibrated": true: each day
// calibrated by the fit on the scenarios closed by then), so the page can say
// whether the calibration has earned trust.

import { ApiError, get, request, storedKey } from "./api.js";
import { h, put, s } from "./dom.js";
import { day, dayTime, pct } from "./format.js";
import { access, allows, writeGate } from "./session.js";

const POLL_MS = 1000;
const num = (x, digits = 3) => (x === null || x === undefined ? "—" : x.toFixed(digits));
const ci = (iv) => (iv ? `${num(iv[0])} to ${num(iv[1])}` : "—");

const isTrackRecord = (b) => b.request.knowledge === "as_served" && !b.request.calibrated;
const isCalibrated = (b) => b.request.knowledge === "as_served" && b.request.calibrated === true;
const sameWindow = (a, b) => a.request.from === b.request.from && a.request.to === b.request.to && a.request.step === b.request.step;

/** The whole history: from the first scenario's opening to now, daily. */
async function wholeHistory() {
  const { scenarios } = await get("/v1/scenarios");
  const opens = scenarios.map((sc) => sc.definition.opens_at || sc.first_recorded_at).map(Date.parse);
  const first = opens.length ? new Date(Math.min(...opens)) : new Date();
  const now = new Date();
  return {
    from: first.toISOString().replace(/\.\d{3}Z$/, "Z"),
    to: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    step: "P1D",
    knowledge: "as_served",
  };
}

/** Plain words for what the interval of a difference says. */
function verdict(iv, what) {
  if (!iv) return "";
  if (iv[1] < 0) return `better than ${what}`;
  if (iv[0] > 0) return `worse than ${what}`;
  return `not distinguishable from ${what}`;
}

function overallTable(o) {
  const rows = [
    ["Brier score", num(o.brier), ci(o.brier_ci), "mean squared error of what was said (lower is better)"],
    ["Skill against the prior", num(o.skill), ci(o.skill_ci), "1 − Brier / Brier of the priors alone (above 0: better)"],
    ["Brier − prior alone", num(o.brier - o.brier_prior), ci(o.vs_prior_ci), verdict(o.vs_prior_ci, "the priors alone")],
    ["Brier − always 50%", num(o.brier - o.brier_half), ci(o.vs_half_ci), verdict(o.vs_half_ci, "a coin")],
    ["Brier, prior and time alone", num(o.brier_timing), "", "what \u201cnot yet\u201d alone would have scored"],
    ["Scenarios", String(o.n_scenarios), "", "resolved yes or no, each weighs the same"],
    ["Samples", String(o.n_samples), "", "one a day while each was open"],
  ];
  const head = ["Measure", "Value", "95% interval", "Meaning"];
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Overall scores, scrollable" },
    h("table", { class: "stack", id: "tr-overall" },
      h("caption", {}, "Over every scenario"),
      h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { scope: "col", class: i === 1 || i === 2 ? "num" : null }, t)))),
      h("tbody", {}, rows.map(([label, value, interval, meaning]) => h("tr", {},
        h("th", { scope: "row" }, label),
        h("td", { class: "num", "data-label": head[1] }, value),
        h("td", { class: "num", "data-label": head[2] }, interval),
        h("td", { class: "muted", "data-label": head[3] }, meaning))))));
}

/** POST without asking for a key: the calibrated run is started on the page's own
 * initiative, so a key without the admin scope is told in the page, not by a dialog. */
async function postQuietly(path, body) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Raw and calibrated side by side, each with its 95% interval. */
function compareTable(raw, cal) {
  const rows = [
    ["Brier score", num(raw.brier), ci(raw.brier_ci), num(cal.brier), ci(cal.brier_ci)],
    ["Skill against the prior", num(raw.skill), ci(raw.skill_ci), num(cal.skill), ci(cal.skill_ci)],
    ["Brier − always 50%", num(raw.brier - raw.brier_half), ci(raw.vs_half_ci), num(cal.brier - cal.brier_half), ci(cal.vs_half_ci)],
    ["Log score", num(raw.log), "", num(cal.log), ""],
  ];
  const head = ["Measure", "Raw", "Raw 95% interval", "Calibrated", "Calibrated 95% interval"];
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Raw and calibrated scores, scrollable" },
    h("table", { class: "stack", id: "tr-compare-table" },
      h("caption", {}, "The model's forecasts (raw) and the calibrated ones, over the same days"),
      h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { scope: "col", class: i ? "num" : null }, t)))),
      h("tbody", {}, rows.map(([label, ...cells]) => h("tr", {},
        h("th", { scope: "row" }, label),
        cells.map((c, i) => h("td", { class: "num", "data-label": head[i + 1] }, c)))))));
}

/** Whether the calibration has earned trust, in words: the per-scenario paired
 * difference (no paired interval is computed, so the two intervals are compared,
 * and overlapping intervals are said to settle nothing). */
function trustWords(rawScores, calScores) {
  const raw = rawScores.overall;
  const cal = calScores.overall;
  if (cal.uncalibrated_samples === cal.n_samples) {
    return "No calibration was in force on any scored day (too few scenarios had closed by then): the calibrated forecasts are the raw ones, and nothing is learnt yet.";
  }
  const byId = new Map(rawScores.scenarios.map((x) => [x.scenario_id, x.brier]));
  const paired = calScores.scenarios.filter((x) => byId.has(x.scenario_id)).map((x) => x.brier - byId.get(x.scenario_id));
  const mean = paired.reduce((a, b) => a + b, 0) / Math.max(1, paired.length);
  const better = paired.filter((d) => d < 0).length;
  const parts = [
    `Calibrated minus raw Brier, scenario by scenario: ${mean >= 0 ? "+" : "−"}${Math.abs(mean).toFixed(3)} on average; the calibrated forecasts were better on ${better} of ${paired.length} scenarios.`,
  ];
  if (cal.uncalibrated_samples) {
    parts.push(`${cal.uncalibrated_samples} of ${cal.n_samples} days had no calibration yet and count as raw.`);
  }
  const [rlo, rhi] = raw.brier_ci || [null, null];
  const [clo, chi] = cal.brier_ci || [null, null];
  if (rlo === null || clo === null) {
    parts.push("There are no intervals to compare: the calibration has not earned trust yet.");
  } else if (chi < rlo) {
    parts.push("The calibrated interval lies wholly below the raw one: the calibration has earned trust.");
  } else if (clo > rhi) {
    parts.push("The calibrated interval lies wholly above the raw one: the calibration has made the forecasts worse; do not trust it.");
  } else {
    parts.push("The two 95% intervals overlap (no paired interval is computed): this is not evidence that the calibration helps, so it has not earned trust yet.");
  }
  return parts.join(" ");
}

/** What we said (the line) against what happened (the dashed level, 100% or 0%). */
function saidChart(series, { width = 560 } = {}) {
  const height = 170;
  const m = { left: 40, right: 10, top: 10, bottom: 24 };
  const happened = series.outcome ? "happened" : "did not happen";
  const points = series.points;
  const svg = s("svg", {
    class: "said",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `${series.scenario_id}: what was said each day from ${points.length ? day(points[0].t) : "—"} to ${points.length ? day(points[points.length - 1].t) : "—"} (last ${points.length ? pct(points[points.length - 1].probability) : "—"}); it ${happened}.`,
    preserveAspectRatio: "xMidYMid meet",
  });
  if (!points.length) return svg;
  const t0 = Date.parse(points[0].t);
  const t1 = Date.parse(points[points.length - 1].t);
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const x = (t) => m.left + ((Date.parse(t) - t0) / Math.max(1, t1 - t0)) * plotW;
  const y = (p) => m.top + (1 - p) * plotH;
  for (const p of [0, 0.5, 1]) {
    svg.append(s("line", { class: "grid", x1: m.left, x2: width - m.right, y1: y(p), y2: y(p) }));
    svg.append(s("text", { class: "tick", x: m.left - 6, y: y(p) + 4, "text-anchor": "end" }, `${p * 100}%`));
  }
  svg.append(s("text", { class: "tick", x: m.left, y: height - 6 }, day(points[0].t)));
  svg.append(s("text", { class: "tick", x: width - m.right, y: height - 6, "text-anchor": "end" }, day(points[points.length - 1].t)));
  const outcome = series.outcome ? 1 : 0;
  svg.append(s("line", { class: "outcome", x1: m.left, x2: width - m.right, y1: y(outcome), y2: y(outcome) }));
  // At the left, where the line starts at the prior (rarely at 0% or 100%).
  svg.append(s("text", { class: "tick strong", x: m.left + 4, y: outcome ? y(1) + 14 : y(0) - 6 }, `what happened: ${series.outcome ? "yes" : "no"}`));
  const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.probability).toFixed(1)}`).join("");
  svg.append(s("path", { class: "line", d }));
  return svg;
}

function scenarioCard(score, series) {
  return h("article", { class: "card said-card", "data-scenario": score.scenario_id },
    h("h3", {}, h("a", { href: `#/scenario/${encodeURIComponent(score.scenario_id)}` }, score.scenario_id)),
    h("p", { class: "hint" },
      `Outcome ${score.outcome} · Brier ${num(score.brier)} (prior alone ${num(score.brier_prior)}) · ${score.n_samples} days scored`),
    series ? saidChart(series) : h("p", {}, "No series kept for this scenario."));
}

export function trackRecord(main) {
  let alive = true;
  let timer = null;
  const title = h("h1", { id: "view-title", tabindex: "-1" }, "Track record");
  const status = h("p", { role: "status", id: "tr-status" }, "Loading…");
  const note = h("p", { class: "hint", id: "tr-note" });
  const run = h("button", { type: "button", id: "tr-run", onclick: () => start() }, "Compute it again now");
  const results = h("div", { id: "tr-results" });
  put(main, title,
    h("p", { class: "lede" },
      "What this service actually said each day about each scenario, as it was served then (the rules, events and resolutions known that day), scored against how the scenarios turned out. Not what today's rules would say with hindsight."),
    status, note, h("p", {}, writeGate("admin", "compute the track record again", () => run)), results);

  async function load() {
    let list;
    try {
      ({ backtests: list } = await get("/v1/backtests?limit=200"));
    } catch (err) {
      status.textContent = `Could not load backtests: ${err.message}`;
      return;
    }
    if (!alive) return;
    const ours = list.filter(isTrackRecord);
    const pending = ours.find((b) => b.status === "queued" || b.status === "running");
    const latest = ours.find((b) => b.status === "done");
    if (latest) show(latest);
    if (pending) watch(pending.id);
    else if (!latest) startIfAllowed();
  }

  /** With no stored track record, compute one on the page's own initiative, but only
   * for a key that may: anyone else is told, not shown a key dialog on arrival. */
  async function startIfAllowed() {
    if (allows(await access(), "admin")) {
      start();
      return;
    }
    if (!alive) return;
    status.textContent = "No track record is stored yet.";
    note.textContent = "Computing it needs an API key with the admin scope.";
  }

  async function start() {
    run.disabled = true;
    note.textContent = "";
    try {
      const body = await wholeHistory();
      const { data } = await request("/v1/backtests", { method: "POST", body }, "admin");
      watch(data.id);
    } catch (err) {
      run.disabled = false;
      const refused = err instanceof ApiError && (err.status === 401 || err.status === 403);
      note.textContent = refused
        ? "Computing the track record needs an API key with the admin scope; without one, the latest stored track record is shown (if there is one)."
        : `Could not start it: ${err.message}`;
      if (!results.childElementCount) status.textContent = "No track record is stored yet.";
    }
  }

  async function watch(id) {
    run.disabled = true;
    let b;
    try {
      b = await get(`/v1/backtests/${encodeURIComponent(id)}`);
    } catch (err) {
      status.textContent = `Could not follow it: ${err.message}`;
      run.disabled = false;
      return;
    }
    if (!alive) return;
    if (b.status === "done") {
      run.disabled = false;
      show(b);
    } else if (b.status === "failed") {
      run.disabled = false;
      note.textContent = `Computing it failed: ${b.error}`;
    } else {
      note.textContent = `Computing the track record: ${Math.round(b.progress * 100)}%…`;
      timer = setTimeout(() => watch(id), POLL_MS);
    }
  }

  async function calibrated(raw, compare) {
    let list;
    try {
      ({ backtests: list } = await get("/v1/backtests?limit=200"));
    } catch (err) {
      put(compare, h("p", { class: "error" }, `Could not load the calibrated track record: ${err.message}`));
      return;
    }
    const mine = list.filter((b) => isCalibrated(b) && sameWindow(b, raw));
    const done = mine.find((b) => b.status === "done");
    if (done) return showCalibrated(raw, done, compare);
    const pending = mine.find((b) => b.status === "queued" || b.status === "running");
    if (pending) return followCalibrated(raw, pending.id, compare);
    try {
      const data = await postQuietly("/v1/backtests", { ...raw.request, calibrated: true });
      followCalibrated(raw, data.id, compare);
    } catch (err) {
      const refused = err instanceof ApiError && (err.status === 401 || err.status === 403);
      put(compare, h("p", { class: "hint", id: "tr-compare-note" }, refused
        ? "The calibrated track record of these days is not stored, and computing it needs an API key with the admin scope."
        : `Could not compute the calibrated track record: ${err.message}`));
    }
  }

  async function followCalibrated(raw, id, compare) {
    if (!alive) return;
    let b;
    try {
      b = await get(`/v1/backtests/${encodeURIComponent(id)}`);
    } catch (err) {
      put(compare, h("p", { class: "error" }, `Could not follow the calibrated track record: ${err.message}`));
      return;
    }
    if (b.status === "done") return showCalibrated(raw, b, compare);
    if (b.status === "failed") {
      put(compare, h("p", { class: "error" }, `Computing the calibrated track record failed: ${b.error}`));
      return;
    }
    put(compare, h("p", { class: "hint", id: "tr-compare-note" }, `Computing the calibrated track record: ${Math.round(b.progress * 100)}%…`));
    timer = setTimeout(() => followCalibrated(raw, id, compare), POLL_MS);
  }

  function showCalibrated(raw, cal, compare) {
    if (!alive) return;
    compare.dataset.backtest = cal.id;
    if (!cal.scores.overall) {
      put(compare, h("p", {}, "Nothing to score for the calibrated forecasts either."));
      return;
    }
    put(compare,
      compareTable(raw.scores.overall, cal.scores.overall),
      h("p", { id: "tr-trust" }, trustWords(raw.scores, cal.scores)));
  }

  async function show(b) {
    note.textContent = "";
    status.textContent = `Computed ${dayTime(b.requested_at)} · daily from ${b.request.from.slice(0, 10)} to ${b.request.to.slice(0, 10)}`;
    status.dataset.backtest = b.id;
    const { overall, scenarios } = b.scores;
    if (!overall) {
      put(results, h("p", {}, "Nothing to score yet: no scenario that resolved yes or no was served a forecast while it was open. (The record counts only what was served at the time: a history imported recently was not served before it was recorded.)"));
      return;
    }
    const img = h("img", { class: "reliability", alt: "Reliability diagram: what was said against how often it happened, in ten bins, with the count of days in each." });
    const charts = h("div", { class: "said-grid" }, h("p", { class: "hint" }, "Loading the series…"));
    const compare = h("section", { id: "tr-compare", "aria-labelledby": "tr-compare-title" },
      h("p", { class: "hint" }, "Loading the calibrated track record…"));
    put(results,
      h("h2", {}, "Scores"),
      overall.few_scenarios
        ? h("p", { class: "warn", id: "tr-few" }, `Only ${overall.n_scenarios} scenario${overall.n_scenarios === 1 ? " has" : "s have"} resolved: the intervals are shown but are not meaningful yet.`)
        : null,
      overallTable(overall),
      h("h2", { id: "tr-compare-title" }, "Raw and calibrated"),
      h("p", { class: "hint" }, "Calibrated: each day's forecast mapped by the recalibration fitted on the scenarios that had closed (and whose outcome was recorded) by that day, never on later ones."),
      compare,
      h("h2", {}, "Calibration"),
      img,
      h("h2", {}, "What we said vs what happened"),
      charts);
    calibrated(b, compare);
    try {
      const { data } = await request(`/v1/backtests/${encodeURIComponent(b.id)}/reliability.svg`, { accept: "image/svg+xml" });
      if (alive) img.src = URL.createObjectURL(data);
    } catch (err) {
      img.alt = `The reliability diagram could not be loaded: ${err.message}`;
    }
    try {
      const { series } = await get(`/v1/backtests/${encodeURIComponent(b.id)}/series`);
      const byId = new Map(series.map((x) => [x.scenario_id, x]));
      if (alive) put(charts, scenarios.map((sc) => scenarioCard(sc, byId.get(sc.scenario_id))));
    } catch (err) {
      put(charts, h("p", { class: "error" }, `The series could not be loaded: ${err.message}`));
    }
  }

  load();
  return {
    destroy() {
      alive = false;
      clearTimeout(timer);
    },
  };
}
