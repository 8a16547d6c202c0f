// One scenario: its probability and intervals, the history chart (80% and 95%
// bands, events marked on the time axis), "why it moved" as a waterfall from
// the prior to the current logit, the rules as defined and the version history.

import { get } from "./api.js";
import { historyChart, waterfallBar } from "./charts.js";
import { h, keepingFocus, put } from "./dom.js";
import { day, dayTime, expit, logOdds, pct, range, relative, STATUS } from "./format.js";
import { subscribe } from "./live.js";

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
  const rules = section("h-rules", "Rules");
  const versions = section("h-versions", "Versions");
  put(main, h("p", { class: "back" }, h("a", { href: "#/" }, "← All scenarios")),
    heading, question, headline, history.el, why.el, rules.el, versions.el);

  let shown = null; // {probability, version} last drawn

  async function load() {
    let fc, sc, vs;
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
    const revised = !shown || shown.version !== fc.version;
    shown = { probability: fc.probability, version: fc.version };
    const def = sc.definition;
    heading.textContent = def.title;
    document.title = `${def.title} · Tradewinds`;
    question.textContent = def.question || "";

    // A closed forecast has no contributions: explain it as it stood just before it closed.
    const closedAt = sc.resolution ? sc.resolution.resolved_at : fc.status === "expired" ? def.deadline : null;
    const explain = fc.status === "open" || !closedAt
      ? fc
      : await get(`/v1/forecasts/${path}?as_of=${iso(Date.parse(closedAt) - 1000)}`);

    drawHeadline(fc, sc);
    await drawHistory(fc, def, explain, closedAt);
    keepingFocus(why.el, () => drawWaterfall(fc, explain));
    if (revised) {
      drawRules(def);
      drawVersions(vs.versions);
    }
  }

  function drawHeadline(fc, sc) {
    const status = STATUS[fc.status] || { label: fc.status, icon: "?" };
    const def = sc.definition;
    put(headline,
      h("p", { class: "probability", "data-probability": "", "data-value": fc.probability ?? "" }, pct(fc.probability)),
      h("dl", { class: "facts" },
        h("dt", {}, "80% interval"), h("dd", {}, range(fc.interval80)),
        h("dt", {}, "95% interval"), h("dd", {}, range(fc.interval95)),
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

  async function drawHistory(fc, def, explain, closedAt) {
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
    const marks = eventContributions(explain).map((c, i) => ({ ...c, number: i + 1 }));
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

  function eventContributions(explain) {
    return (explain.contributions || []).filter((c) => c.kind === "event");
  }

  function drawWaterfall(fc, explain) {
    const contributions = explain.contributions || [];
    if (!contributions.length) {
      put(why.body, h("p", {}, fc.status === "annulled" ? "Annulled: there is no forecast to explain." : "No contributions to show."));
      return;
    }
    let running = 0;
    let eventNumber = 0;
    const steps = contributions.map((c) => {
      const before = running;
      running += c.log_odds;
      if (c.kind === "event") eventNumber += 1;
      return { c, before, after: running, number: c.kind === "event" ? eventNumber : null };
    });
    const values = [0, ...steps.map((st) => st.after), ...steps.map((st) => st.before)];
    const scale = { min: Math.min(...values), max: Math.max(...values) };
    const intro = explain === fc
      ? "Each row adds its log-odds to the running total; the last total is the forecast's logit."
      : `This forecast is closed; here is how it stood just before (as of ${dayTime(explain.as_of)}), when it was ${pct(explain.probability)}.`;
    const describe = (c) => {
      if (c.kind === "prior") return "Prior";
      if (c.kind === "time") return "Time remaining (less time left, lower odds)";
      return c.summary;
    };
    put(why.body,
      h("p", { class: "hint" }, intro),
      h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Contributions, scrollable" },
        h("table", { class: "waterfall stack" },
          h("caption", {}, "Contributions from the prior to the current logit"),
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "#"),
            h("th", { scope: "col" }, "What"),
            h("th", { scope: "col" }, "Date"),
            h("th", { scope: "col" }, "Rule"),
            h("th", { scope: "col", class: "num" }, "Effect (log-odds)"),
            h("th", { scope: "col", class: "num" }, "Running logit"),
            h("th", { scope: "col", class: "num" }, "Probability"),
            h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Bar"), h("span", { "aria-hidden": "true" }, "")))),
          h("tbody", {}, steps.map((st) => h("tr", { "data-kind": st.c.kind, "data-log-odds": String(st.c.log_odds) },
            h("td", { "data-label": "Event" }, st.number ?? ""),
            h("th", { scope: "row" }, describe(st.c)),
            h("td", { class: "date", "data-label": "Date" }, st.c.occurred_at ? day(st.c.occurred_at) : ""),
            h("td", { "data-label": "Rule" }, st.c.rule || ""),
            h("td", { class: `num ${st.c.kind === "prior" ? "" : st.c.log_odds >= 0 ? "up" : "down"}`, "data-effect": "", "data-label": "Effect" },
              `${st.c.kind === "prior" ? "" : st.c.log_odds >= 0 ? "▲ " : "▼ "}${logOdds(st.c.log_odds)}`),
            h("td", { class: "num", "data-label": "Running logit" }, logOdds(st.after)),
            h("td", { class: "num", "data-label": "Probability" }, pct(expit(st.after))),
            h("td", {}, waterfallBar(st.before, st.after, scale, { kind: st.c.kind === "prior" ? "prior" : "step" }))))),
          h("tfoot", {}, h("tr", {},
            h("td", {}),
            h("th", { scope: "row", colspan: "3" }, "Sum of the contributions"),
            h("td", { class: "num", "data-logit-sum": String(running), "data-label": "Sum" }, logOdds(running)),
            h("td", { class: "num", "data-logit": String(explain.logit), "data-label": "Served logit" }, logOdds(explain.logit)),
            h("td", { class: "num", "data-final-probability": "", "data-label": "Probability" }, pct(explain.probability)),
            h("td", {}, waterfallBar(0, running, scale, { kind: "total" })))))));
  }

  function drawRules(def) {
    put(rules.body,
      h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Rules, scrollable" },
        h("table", { class: "stack" },
          h("caption", {}, `Prior ${pct(def.prior)}; timing ${def.timing || "uniform"}. Each match multiplies the odds by the Bayes factor (adds its log to the logit).`),
          h("thead", {}, h("tr", {},
            ["Rule", "Matches", "Bayes factor", "Half-life", "Repeat discount", "Reasoning"].map((t, i) =>
              h("th", { scope: "col", class: i >= 2 && i <= 4 ? "num" : null }, t)))),
          h("tbody", {}, (def.rules || []).map((r) => h("tr", {},
            h("th", { scope: "row" }, r.name),
            h("td", { "data-label": "Matches" }, h("code", {}, describeMatch(r.match))),
            h("td", { class: "num", "data-label": "Bayes factor" }, `×${r.bayes_factor} (${logOdds(Math.log(r.bayes_factor))})`),
            h("td", { class: "num", "data-label": "Half-life" }, r.half_life_days ? `${r.half_life_days} days` : "none"),
            h("td", { class: "num", "data-label": "Repeat discount" }, r.repeat_discount ?? "none"),
            h("td", { "data-label": "Reasoning" }, r.reasoning || "")))))));
  }

  function drawVersions(list) {
    const changes = (prev, cur) => {
      if (!prev) return "first version";
      const out = [];
      for (const key of ["title", "question", "prior", "deadline", "opens_at", "timing"]) {
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
  return { destroy: unsubscribe };
}
