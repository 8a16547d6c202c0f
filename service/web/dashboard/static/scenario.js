// One scenario: its probability and intervals, the history chart (80% and 95%
// bands, events marked on the time axis), "why it moved" as a waterfall from
// the prior to the current logit, the rules as defined and the version history.

import { get } from "./api.js";
import { calibratedFacts, calibrationSection } from "./calibration.js";
import { historyChart } from "./charts.js";
import { h, keepingFocus, put } from "./dom.js";
import { day, dayTime, logOdds, pct, range, relative, STATUS } from "./format.js";
import { subscribe } from "./live.js";
import { resolutionPanel } from "./resolve.js";
import { writeGate } from "./session.js";
import { waterfall } from "./waterfall.js";
import { suggestionsSection } from "./suggestions.js";

const DAY_MS = 86400000;
const iso = (ms) => new Date(ms).toISOString().replace(".000Z", "Z");

const OPERATORS = { eq: "=", ne: "≠", in: "in", nin: "not in", lt: "<", le: "≤", gt: ">", ge: "≥", contains: "contains" };

function show(value) {
  return Array.isArray(value) ? `[${value.map(show).join(", ")}]` : JSON.stringify(value);
}

/** A rule's match as one line: kind where field = value and field in [...]. */
export function describeMatch(match) {
  const kinds = Array.isArray(match.kind) ? match.kind.join(" or ") : match.kind;
  const conditions = Object.entries(match.where || {}).map(([field, condition]) => {
    if (condition !== null && typeof condition === "object" && !Array.isArray(condition)) {
      const [[op, value]] = Object.entries(condition);
      return `${field} ${OPERATORS[op] || op} ${show(value)}`;
    }
    return `${field} = ${show(condition)}`;
  });
  return conditions.length ? `${kinds} where ${conditions.join(" and ")}` : kinds;
}

function section(id, title) {
  const body = h("div", {});
  const el = h("section", { "aria-labelledby": id, "data-key": id }, h("h2", { id }, title), body);
  return { el, body };
}

export function scenario(main, id) {
  const path = encodeURIComponent(id);
  const heading = h("h1", { id: "view-title", tabindex: "-1" }, id);
  const question = h("p", { class: "lede" });
  const headline = h("div", { class: "headline" });
  const history = section("h-history", "History");
  const why = section("h-why", "Why it moved");
  const learning = section("h-learning", "Learning from outcomes");
  const rules = section("h-rules", "Rules");
  const suggestions = section("h-suggestions", "Suggested Bayes factors");
  const suggesting = suggestionsSection(suggestions.body);
  const versions = section("h-versions", "Versions");
  const resolution = section("h-resolution", "Resolution");
  const edit = writeGate("admin", "edit this scenario", () =>
    h("p", { class: "edit-link", "data-write": "admin" }, h("a", { href: `#/scenario/${path}/edit`, "data-edit-scenario": "" }, "Edit this scenario (preview, then save a new version)")));
  put(main, h("p", { class: "back" }, h("a", { href: "#/" }, "← All scenarios")),
    heading, question, headline, edit, learning.el, history.el, why.el, rules.el, suggestions.el, versions.el, resolution.el);

  let shown = null; // {probability, version} last drawn
  let resolved = null; // the resolution state the panel was drawn for

  async function load() {
    let fc, sc, vs, suggested;
    try {
      [fc, sc, vs] = await Promise.all([
        get(`/v1/forecasts/${path}`),
        get(`/v1/scenarios/${path}`),
        get(`/v1/scenarios/${path}/versions`),
      ]);
    } catch (error) {
      put(headline, h("p", { class: "error", role: "alert" },
        error.status === 404 ? `There is no scenario "${id}".` : `Could not load it: ${error.message}`));
      return;
    }
    try {
      // The calibration in force at the forecast's as_of, the one its `calibrated` used.
      suggested = await get(`/v1/scenarios/${path}/suggested-rules?as_of=${encodeURIComponent(fc.as_of)}`);
    } catch (error) {
      suggested = { error };
    }
    const revised = !shown || shown.version !== fc.version;
    shown = { probability: fc.probability, version: fc.version };
    const def = sc.definition;
    heading.textContent = def.title;
    document.title = `${def.title} · Tradewinds`;
    question.textContent = def.question || "";

    // A closed forecast's contributions explain it as it stood just before it closed.
    const closedAt = fc.explained ? fc.explained.closed_at : null;

    drawHeadline(fc, sc, suggested.calibration);
    const state = JSON.stringify([sc.resolution, (sc.retracted_resolutions || []).length]);
    if (state !== resolved) {
      resolved = state;
      put(resolution.body, resolutionPanel(sc, load));
    }
    put(learning.body, suggested.error
      ? h("p", { class: "error" }, `Could not load the calibration: ${suggested.error.message}`)
      : calibrationSection(suggested.calibration));
    await drawHistory(fc, def, closedAt);
    keepingFocus(why.el, () => put(why.body, waterfall(fc)));
    if (revised) {
      drawRules(def);
      drawVersions(vs.versions);
    }
    if (suggested.error) put(suggestions.body, h("p", { class: "error" }, `Could not load the suggestions: ${suggested.error.message}`));
    else keepingFocus(suggestions.el, () => suggesting.draw(suggested));
  }

  function drawHeadline(fc, sc, calibration) {
    const status = STATUS[fc.status] || { label: fc.status, icon: "?" };
    const def = sc.definition;
    put(headline,
      h("p", { class: "probability", "data-probability": "", "data-value": fc.probability ?? "" }, pct(fc.probability)),
      h("dl", { class: "facts" },
        h("dt", {}, "80% interval"), h("dd", {}, range(fc.interval80)),
        h("dt", {}, "95% interval"), h("dd", {}, range(fc.interval95)),
        calibratedFacts(fc, calibration),
        h("dt", {}, "Status"), h("dd", { class: `status status-${fc.status}` },
          h("span", { class: "icon", "aria-hidden": "true" }, status.icon), ` ${status.label}`,
          sc.resolution ? ` on ${day(sc.resolution.resolved_at)}${sc.resolution.note ? `: ${sc.resolution.note}` : ""}` : ""),
        (sc.retracted_resolutions || []).map((r) => [
          h("dt", {}, "Corrected"),
          h("dd", { class: "retracted-resolution", "data-retracted-resolution": "" },
            `Resolution "${r.outcome}" of ${day(r.resolved_at)} retracted ${dayTime(r.retracted.recorded_at)}: ${r.retracted.reason}`)]),
        h("dt", {}, "Deadline"), h("dd", {}, h("time", { datetime: def.deadline }, day(def.deadline)),
          fc.status === "open" ? ` · ${relative(def.deadline, Date.now())}` : ""),
        h("dt", {}, "Prior"), h("dd", {}, pct(def.prior), def.opens_at ? ` from ${day(def.opens_at)}` : ""),
        h("dt", {}, "Version"), h("dd", {}, String(fc.version)),
        (def.tags || []).length ? [h("dt", {}, "Tags"), h("dd", {}, def.tags.join(", "))] : null,
        h("dt", {}, "As of"), h("dd", {}, dayTime(fc.as_of))));
  }

  async function drawHistory(fc, def, closedAt) {
    const start = Date.parse(def.opens_at || fc.as_of) - 30 * DAY_MS;
    let end = Date.parse(fc.as_of);
    if (closedAt) end = Math.min(end, Date.parse(closedAt) + 30 * DAY_MS);
    const stepDays = Math.max(1, Math.ceil((end - start) / DAY_MS / 365));
    const to = start + Math.floor((end - start) / (stepDays * DAY_MS)) * stepDays * DAY_MS;
    let points = [];
    try {
      ({ points } = await get(`/v1/forecasts/${path}/history?from=${iso(start)}&to=${iso(to)}&step=P${stepDays}D`));
    } catch (error) {
      put(history.body, h("p", { class: "error" }, `No history: ${error.message}`));
      return;
    }
    const marks = eventContributions(fc).map((c, i) => ({ ...c, number: i + 1 }));
    const first = points.find((p) => p.probability !== null);
    const last = [...points].reverse().find((p) => p.probability !== null);
    const label = first && last
      ? `Probability from ${day(first.t)} (${pct(first.probability)}) to ${day(last.t)} (${pct(last.probability)}), with 80% and 95% bands; ${marks.length} events marked, numbered as in the table below.`
      : "No history to draw.";
    put(history.body,
      h("ul", { class: "legend" },
        h("li", {}, h("span", { class: "swatch line" }), "probability"),
        h("li", {}, h("span", { class: "swatch b80" }), "80% interval"),
        h("li", {}, h("span", { class: "swatch b95" }), "95% interval"),
        h("li", {}, "▲ event raised the odds, ▼ lowered them (numbers as in the table below)")),
      // Drawn at the width it will be shown at (at most 760), so its text stays readable.
      historyChart(points, marks, { label, width: Math.round(Math.min(760, Math.max(320, history.body.clientWidth))) }),
      h("p", { class: "hint" }, `One point every ${stepDays === 1 ? "day" : `${stepDays} days`}, evaluated with the events that had occurred by then.`));
  }

  function eventContributions(fc) {
    return (fc.contributions || []).filter((c) => c.kind === "event");
  }

  /** The timing in words: with uniform timing, its shape a (when the outcome tends to come). */
  function timingWords(def) {
    const timing = def.timing || "uniform";
    if (timing !== "uniform") return timing;
    const a = def.timing_shape ?? 1;
    const tends = a > 1 ? "tends to come late" : a < 1 ? "tends to come early" : "as likely any day";
    return `uniform, shape a = ${a} (the outcome ${tends})`;
  }

  function drawRules(def) {
    put(rules.body,
      h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Rules, scrollable" },
        h("table", { class: "stack" },
          h("caption", {}, `Prior ${pct(def.prior)}; timing ${timingWords(def)}. Each match multiplies the odds by the Bayes factor (adds its log to the logit); rules of one group share one match count (the k-th match of the group weighs r^(k-1)).`),
          h("thead", {}, h("tr", {},
            ["Rule", "Matches", "Bayes factor", "Half-life", "Repeat discount", "Group", "Reasoning"].map((t, i) =>
              h("th", { scope: "col", class: i >= 2 && i <= 4 ? "num" : null }, t)))),
          h("tbody", {}, (def.rules || []).map((r) => h("tr", {},
            h("th", { scope: "row" }, r.name),
            h("td", { "data-label": "Matches" }, h("code", {}, describeMatch(r.match))),
            h("td", { class: "num", "data-label": "Bayes factor" }, `×${r.bayes_factor} (${logOdds(Math.log(r.bayes_factor))})`),
            h("td", { class: "num", "data-label": "Half-life" }, r.half_life_days ? `${r.half_life_days} days` : "none"),
            h("td", { class: "num", "data-label": "Repeat discount" }, r.repeat_discount ?? "none"),
            h("td", { "data-label": "Group", "data-group": r.group || "" }, r.group || "alone"),
            h("td", { "data-label": "Reasoning" }, r.reasoning || "")))))));
  }

  function drawVersions(list) {
    const changes = (prev, cur) => {
      if (!prev) return "first version";
      const out = [];
      for (const key of ["title", "question", "prior", "deadline", "opens_at", "timing", "timing_shape"]) {
        if (JSON.stringify(prev[key]) !== JSON.stringify(cur[key])) out.push(key);
      }
      const names = (d) => new Map((d.rules || []).map((r) => [r.name, JSON.stringify(r)]));
      const a = names(prev);
      const b = names(cur);
      for (const [n, r] of b) {
        if (!a.has(n)) out.push(`rule ${n} added`);
        else if (a.get(n) !== r) out.push(`rule ${n} changed`);
      }
      for (const n of a.keys()) if (!b.has(n)) out.push(`rule ${n} removed`);
      return out.length ? out.join(", ") : "no change";
    };
    put(versions.body,
      h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Versions, scrollable" }, h("table", {},
        h("caption", {}, "Every version is kept; forecasts use the newest."),
        h("thead", {}, h("tr", {},
          h("th", { scope: "col", class: "num" }, "Version"),
          h("th", { scope: "col" }, "Recorded"),
          h("th", { scope: "col", class: "num" }, "Log position"),
          h("th", { scope: "col" }, "What changed"))),
        h("tbody", {}, list.map((v, i) => h("tr", {},
          h("th", { scope: "row", class: "num" }, String(v.version)),
          h("td", {}, dayTime(v.recorded_at)),
          h("td", { class: "num" }, String(v.position)),
          h("td", {}, changes(i ? list[i - 1].definition : null, v.definition))))))));
  }

  load();
  const unsubscribe = subscribe((data, previous) => {
    if (!previous || !shown) return;
    const f = data.forecasts.find((x) => x.scenario_id === id);
    if (f && (f.probability !== shown.probability || f.version !== shown.version)) load();
  });
  return {
    destroy() {
      unsubscribe();
      suggesting.destroy();
    },
  };
}
