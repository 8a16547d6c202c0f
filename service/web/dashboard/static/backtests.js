// Backtests: start one (needs an admin key), watch its progress, read its
// scores and the reliability diagram.

import { get, request } from "./api.js";
import { h, put } from "./dom.js";
import { writeGate } from "./session.js";
import { dayTime } from "./format.js";

const POLL_MS = 1000;
const num = (x, digits = 3) => (x === null || x === undefined ? "—" : x.toFixed(digits));

const OVERALL = [
  ["brier", "Brier score", "mean squared error of the forecasts, each scenario weighing the same (lower is better)", "brier_ci"],
  ["brier_prior", "Brier, prior alone", "baseline: the scenarios' priors, never updated; the interval is of our Brier minus this", "vs_prior_ci"],
  ["brier_half", "Brier, always 50%", "baseline: a coin; the interval is of our Brier minus this", "vs_half_ci"],
  ["brier_timing", "Brier, prior and time term alone", "baseline: no rules, only the prior and \u201cnot yet\u201d as the deadline nears"],
  ["brier_pooled", "Brier, every sample pooled", "each sample weighing the same (long scenarios weigh more)"],
  ["skill", "Skill", "1 − Brier / Brier of the prior (above 0: better than the prior)", "skill_ci"],
  ["log", "Log score", "mean negative log-likelihood (lower is better)"],
  ["ece", "Calibration error (ECE)", "mean gap between forecast and observed frequency"],
  ["sharpness", "Sharpness", "variance of the forecasts"],
  ["n_samples", "Samples", ""],
  ["n_scenarios", "Scenarios", ""],
];

// The Murphy decomposition's terms, each with what it means (forecasts/verdicts.py
// says the same to the command line).
const MURPHY = [
  ["reliability", "Reliability", "how far the forecasts were from the observed rates (lower is better)"],
  ["resolution", "Resolution", "how much the forecasts separated the outcomes (higher is better)"],
  ["uncertainty", "Uncertainty", "the variance of the base rate, not in the model's control"],
];

// The served summary's sentences start with what they found; each gets a shape
// as well as a colour.
const VERDICTS = [
  ["Better than", "better", "▲"],
  ["Worse than", "worse", "▼"],
  ["Not distinguishable", "same", "≈"],
  ["With fewer than", "warning", "⚠"],
];

const NO_EFFECT = 0.0005; // below this, |Δ Brier| shows as 0.000

function signed(x) {
  const v = Math.abs(x).toFixed(3);
  if (Number(v) === 0) return "±0.000";
  return `${x > 0 ? "+" : "−"}${v}`;
}

/** A 95% interval: of a difference (signed), or of a score. */
function interval(iv, ofDifference) {
  return ofDifference ? `${signed(iv[0])} to ${signed(iv[1])}` : `${num(iv[0])} to ${num(iv[1])}`;
}

function effect(delta) {
  if (Math.abs(delta) < NO_EFFECT) return { word: "no effect", cls: "", icon: "·" };
  return delta > 0 ? { word: "helped", cls: "up", icon: "▲" } : { word: "hurt", cls: "down", icon: "▼" };
}

function verdictCard(summary) {
  if (!summary || !summary.length) return null;
  return h("section", { class: "card verdicts", "aria-labelledby": "h-verdicts" },
    h("h3", { id: "h-verdicts" }, "In words: better than the baselines, or chance?"),
    h("ul", {}, summary.map((sentence) => {
      const [, cls, icon] = VERDICTS.find(([start]) => sentence.startsWith(start)) || [null, "", "•"];
      return h("li", { class: cls || null }, h("span", { class: "mark", "aria-hidden": "true" }, icon), h("span", {}, sentence));
    })));
}

function murphyTable(overall) {
  if (!overall.murphy) return h("p", { class: "hint" }, "This backtest was stored before the Murphy decomposition was computed.");
  return table(`Murphy decomposition of the pooled Brier ${num(overall.brier_pooled)} (reliability − resolution + uncertainty, plus the spread within bins)`,
    [["Term"], ["Value", "num"], ["What it means"]],
    MURPHY.map(([key, label, meaning]) => h("tr", {},
      h("th", { scope: "row" }, label),
      h("td", { class: "num" }, num(overall.murphy[key])),
      h("td", { class: "muted" }, meaning))));
}

function ruleEffects(scenarios) {
  const heading = h("h2", { id: "h-rules" }, "What each rule did");
  if (scenarios.every((s) => !s.rules)) {
    return h("section", { "aria-labelledby": "h-rules" }, heading,
      h("p", { class: "hint" }, "This backtest was stored before the rules' effects were computed."));
  }
  return h("section", { class: "rule-effects", "aria-labelledby": "h-rules" }, heading,
    h("p", { class: "hint" }, "Each rule's effect is the scenario's Brier without the rule minus its Brier with it: above 0 the rule helped (the forecasts were closer to the outcome with it), below 0 it hurt. Ranked from the most help to the most harm."),
    h("div", { class: "rule-grid" }, scenarios.filter((s) => s.rules).map((s) => {
      const ranked = [...s.rules].sort((a, b) => b.delta_brier - a.delta_brier || (a.rule < b.rule ? -1 : 1));
      return h("div", { class: "rule-card", dataset: { scenario: s.scenario_id } }, table(`${s.scenario_id} (resolved ${s.outcome})`, [["#", "num"], ["Rule"], ["What it did"], ["Δ Brier", "num"]],
        ranked.map((r, i) => {
          const e = effect(r.delta_brier);
          return h("tr", { dataset: { rule: r.rule } },
            h("td", { class: "num" }, String(i + 1)),
            h("th", { scope: "row" }, h("code", {}, r.rule)),
            h("td", { class: e.cls || null }, `${e.icon} ${e.word}`),
            h("td", { class: "num" }, signed(r.delta_brier)));
        }), false));
    })));
}

function table(caption, head, rows, stack = true) {
  // At phone width the rows of a stacking table become blocks; each cell then
  // shows its column's name. Narrow tables (stack false) stay tables.
  if (stack) {
    for (const row of rows) {
      [...row.children].forEach((cell, i) => {
        if (cell.tagName === "TD") cell.dataset.label = head[i][0];
      });
    }
  }
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": `${caption}, scrollable` },
    h("table", { class: stack ? "stack" : null },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, head.map(([text, cls]) => h("th", { scope: "col", class: cls || null }, text)))),
      h("tbody", {}, rows)));
}

export function backtests(main, id) {
  let timer = null;
  let alive = true;
  const title = h("h1", { id: "view-title", tabindex: "-1" }, id ? "Backtest" : "Backtests");
  const body = h("div", {});
  put(main, id ? h("p", { class: "back" }, h("a", { href: "#/backtests" }, "← All backtests")) : null, title, body);

  if (id) watch(id);
  else overview();

  async function overview() {
    const scenarios = h("select", { id: "bt-scenarios", multiple: true, size: "5" });
    const error = h("p", { class: "error", role: "alert" });
    const submit = h("button", { type: "submit" }, "Start backtest");
    const form = h("form", { class: "card", "aria-labelledby": "h-start", onsubmit: start },
      h("h2", { id: "h-start" }, "Start a backtest"),
      h("p", { class: "hint" }, "Scores the forecasts the log would have given at each step against how the scenarios resolved. "),
      h("div", { class: "form-grid" },
        h("div", { class: "field" }, h("label", { for: "bt-from" }, "From"), h("input", { id: "bt-from", type: "date", required: true, value: "2025-01-01" })),
        h("div", { class: "field" }, h("label", { for: "bt-to" }, "To"), h("input", { id: "bt-to", type: "date", required: true, value: new Date().toISOString().slice(0, 10) })),
        h("div", { class: "field" }, h("label", { for: "bt-step" }, "Step"),
          h("select", { id: "bt-step" },
            h("option", { value: "P1D" }, "daily"), h("option", { value: "P7D", selected: true }, "weekly"), h("option", { value: "P30D" }, "every 30 days"))),
        h("div", { class: "field" }, h("label", { for: "bt-scenarios" }, "Scenarios (none chosen: all resolved ones)"), scenarios),
        h("div", { class: "field" }, submit)),
      error);
    const recent = h("div", {}, h("p", { class: "hint" }, "Loading…"));
    put(body, writeGate("admin", "start a backtest", () => form), h("section", { "aria-labelledby": "h-recent" }, h("h2", { id: "h-recent" }, "Recent backtests"), recent));

    async function start(e) {
      e.preventDefault();
      error.textContent = "";
      submit.disabled = true;
      const chosen = [...scenarios.selectedOptions].map((o) => o.value);
      const payload = {
        from: `${document.getElementById("bt-from").value}T00:00:00Z`,
        to: `${document.getElementById("bt-to").value}T00:00:00Z`,
        step: document.getElementById("bt-step").value,
        ...(chosen.length ? { scenario_ids: chosen } : {}),
      };
      try {
        const { data } = await request("/v1/backtests", { method: "POST", body: payload }, "admin");
        location.hash = `#/backtests/${encodeURIComponent(data.id)}`;
      } catch (err) {
        const fields = (err.problem && err.problem.errors) || [];
        error.textContent = err.status === 401 || err.status === 403
          ? "Not started: this needs a key with the admin scope."
          : `Not started: ${err.message}${fields.length ? ` (${fields.map((f) => `${f.field}: ${f.message}`).join("; ")})` : ""}`;
      } finally {
        submit.disabled = false;
      }
    }

    try {
      const [{ scenarios: all }, { backtests: list }] = await Promise.all([get("/v1/scenarios"), get("/v1/backtests?limit=20")]);
      put(scenarios, all.filter((s) => s.resolution).map((s) => h("option", { value: s.id }, s.definition.title)));
      put(recent, list.length
        ? table("Newest first", [["Backtest"], ["Requested"], ["Window"], ["Step"], ["Status"], ["Brier", "num"], ["Skill", "num"]],
            list.map((b) => h("tr", {},
              h("th", { scope: "row" }, h("a", { href: `#/backtests/${encodeURIComponent(b.id)}` }, b.id.slice(0, 8))),
              h("td", {}, dayTime(b.requested_at)),
              h("td", {}, `${b.request.from.slice(0, 10)} – ${b.request.to.slice(0, 10)}`),
              h("td", {}, b.request.step),
              h("td", {}, b.status === "running" ? `running (${Math.round(b.progress * 100)}%)` : b.status),
              h("td", { class: "num" }, b.scores ? num(b.scores.overall.brier) : "—"),
              h("td", { class: "num" }, b.scores ? num(b.scores.overall.skill) : "—"))))
        : h("p", {}, "None yet."));
    } catch (err) {
      put(recent, h("p", { class: "error" }, `Could not load backtests: ${err.message}`));
    }
  }

  function watch(backtestId) {
    const path = `/v1/backtests/${encodeURIComponent(backtestId)}`;
    const progress = h("progress", { id: "bt-progress", max: "1", value: "0" });
    const statusLine = h("p", { role: "status" }, "Loading…");
    const results = h("div", {});
    put(body,
      h("div", { class: "field" }, h("label", { for: "bt-progress" }, "Progress"), progress),
      statusLine, results);

    async function tick() {
      let b;
      try {
        b = await get(path);
      } catch (err) {
        statusLine.textContent = err.status === 404 ? "There is no such backtest." : `Could not load it: ${err.message}`;
        return;
      }
      if (!alive) return;
      title.textContent = `Backtest ${b.id.slice(0, 8)}`;
      progress.value = b.progress;
      const span = `${b.request.from.slice(0, 10)} to ${b.request.to.slice(0, 10)}, step ${b.request.step}`;
      const only = (b.request.scenario_ids || []).length ? ` · ${b.request.scenario_ids.join(", ")}` : "";
      statusLine.textContent = `${b.status} · ${Math.round(b.progress * 100)}% · ${span}${only}`;
      statusLine.dataset.status = b.status;
      if (b.status === "failed") put(results, h("p", { class: "error" }, `Failed: ${b.error}`));
      else if (b.status === "done") showScores(b, results, path);
      else timer = setTimeout(tick, POLL_MS);
    }
    tick();
  }

  async function showScores(b, results, path) {
    const { overall, scenarios, calibration } = b.scores;
    const img = h("img", { class: "reliability", alt: `Reliability diagram: forecast probability against observed frequency in ${calibration.length} bins (the calibration table below has the numbers).` });
    put(results,
      h("h2", {}, "Scores"),
      verdictCard(b.summary),
      table("Over every scenario", [["Measure"], ["Value", "num"], ["95% interval", "num"], ["Meaning"]],
        OVERALL.filter(([key]) => overall[key] !== null && overall[key] !== undefined).map(([key, label, meaning, ci]) => h("tr", {},
          h("th", { scope: "row" }, label),
          h("td", { class: "num" }, key.startsWith("n_") ? String(overall[key]) : num(overall[key])),
          h("td", { class: "num" }, ci && overall[ci] ? interval(overall[ci], ci !== "brier_ci") : ""),
          h("td", { class: "muted" }, meaning)))),
      h("h2", {}, "By scenario"),
      table("Per scenario, with the baselines on the same samples", [["Scenario"], ["Outcome"], ["Brier", "num"], ["Prior's Brier", "num"], ["50%'s Brier", "num"], ["Prior + time's Brier", "num"], ["Skill", "num"], ["Log", "num"], ["Samples", "num"]],
        scenarios.map((s) => h("tr", {},
          h("th", { scope: "row" }, h("a", { href: `#/scenario/${encodeURIComponent(s.scenario_id)}` }, s.scenario_id)),
          h("td", {}, s.outcome),
          h("td", { class: "num" }, num(s.brier)),
          h("td", { class: "num" }, num(s.brier_prior)),
          h("td", { class: "num" }, num(s.brier_half)),
          h("td", { class: "num" }, num(s.brier_timing)),
          h("td", { class: `num ${s.skill > 0 ? "up" : s.skill < 0 ? "down" : ""}` }, `${s.skill > 0 ? "▲ " : s.skill < 0 ? "▼ " : ""}${num(s.skill)}`),
          h("td", { class: "num" }, num(s.log)),
          h("td", { class: "num" }, String(s.n_samples))))),
      ruleEffects(scenarios),
      h("h2", {}, "Calibration"),
      murphyTable(overall),
      img,
      table("Forecasts grouped by probability", [["Bin"], ["Mean forecast", "num"], ["Observed rate", "num"], ["Samples", "num"]],
        calibration.map((c) => h("tr", {},
          h("th", { scope: "row" }, `${Math.round(c.lo * 100)}–${Math.round(c.hi * 100)}%`),
          h("td", { class: "num" }, num(c.mean_forecast)),
          h("td", { class: "num" }, num(c.observed_rate)),
          h("td", { class: "num" }, String(c.count))))));
    try {
      // Fetched (not an <img src>) so that the API key goes with it.
      const { data } = await request(`${path}/reliability.svg`, { accept: "image/svg+xml" });
      img.src = URL.createObjectURL(data);
    } catch (err) {
      img.alt = `The reliability diagram could not be loaded: ${err.message}`;
    }
  }

  return {
    destroy() {
      alive = false;
      clearTimeout(timer);
    },
  };
}
