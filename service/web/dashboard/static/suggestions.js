// Suggested Bayes factors on a scenario page: each rule's factor and the one the
// outcomes of closed scenarios suggest (B^scale, the scale of its kind of
// evidence), and for an admin a one-click what-if backtest of the suggestions
// beside the same backtest with the rules as they are.

import { get, request, storedKey } from "./api.js";
import { h, put } from "./dom.js";

const POLL_MS = 1000;
const num = (x, digits = 3) => (x === null || x === undefined ? "—" : x.toFixed(digits));
const factor = (x) => (x === null || x === undefined ? "—" : `×${x.toFixed(3)}`);

/** What a scale does to its kind of evidence, in a word and a shape. */
function scaleMark(scale) {
  if (scale === null || scale === undefined || Math.abs(scale - 1) < 0.0005) return h("span", { class: "scale-mark" }, " · as is");
  return scale > 1
    ? h("span", { class: "scale-mark up" }, " ▲ more weight")
    : h("span", { class: "scale-mark down" }, " ▼ less weight");
}

/** A rule's kinds-key g: its match.kind, a list's kinds sorted and joined by "|". */
export function kindsKey(match) {
  return Array.isArray(match.kind) ? [...match.kind].sort().join("|") : match.kind;
}

/** Every scenario's rules with each Bayes factor replaced by B^beta_g (scales: the
 * calibration's evidence_scales); only scenarios with a rule that changes. */
export function suggestedRules(scenarios, scales) {
  const scaleOf = new Map(scales.map((s) => [s.kinds, s.beta]));
  const out = {};
  for (const sc of scenarios) {
    const rules = (sc.definition.rules || []).map((r) => {
      const scale = scaleOf.get(kindsKey(r.match)) ?? 1;
      return scale === 1 ? r : { ...r, bayes_factor: r.bayes_factor ** scale };
    });
    if (rules.some((r, i) => r !== sc.definition.rules[i])) out[sc.id] = rules;
  }
  return out;
}

/** Whether the key in this tab may start backtests: asks an admin-only read
 * (the alerts list) without opening the key dialog. */
async function mayStartBacktests() {
  const key = storedKey();
  const response = await fetch("/v1/alerts", {
    headers: { Accept: "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}) },
    cache: "no-store",
  });
  return response.ok;
}

function earliest(scenarios) {
  const times = scenarios.map((s) => Date.parse(s.definition.opens_at || s.first_recorded_at));
  return new Date(Math.min(...times)).toISOString().slice(0, 10);
}

export function suggestionsSection(body) {
  let timer = null;
  let alive = true;
  let admin = null; // the answer of mayStartBacktests, asked once per page
  const result = h("div", { class: "try-result", "aria-live": "polite" });

  function draw(suggested) {
    const cal = suggested.calibration;
    if (cal.alpha === null || cal.alpha === undefined) {
      put(body, h("p", { class: "hint" }, "No suggestions yet: they are learnt with the calibration, once 5 scenarios have closed."));
      return;
    }
    const nOf = new Map((cal.evidence_scales || []).map((s) => [s.kinds, s.n_matches]));
    const action = h("div", { class: "try" }, h("p", { class: "hint" }, "Checking whether this key may start backtests…"));
    put(body,
      h("p", { class: "hint" },
        `Each rule's Bayes factor raised to the scale learnt for its kind of evidence from the outcomes of ${cal.n_scenarios} closed scenarios (never from an open scenario's own outcome, which nobody knows yet). A scale below 1 says that kind of evidence has been overweighted; n is how many of its matches entered the fit. Whether the suggestions would have helped is judged leave-one-scenario-out by `,
        h("code", {}, "tradewinds calibrate --evaluate"), "; the backtest below is in-sample and flatters them."),
      h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Suggested Bayes factors, scrollable" },
        h("table", { class: "stack suggestions" },
          h("caption", {}, "Bayes factors as defined and as the outcomes suggest"),
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Rule"),
            h("th", { scope: "col" }, "Kind of evidence"),
            h("th", { scope: "col", class: "num" }, "Now"),
            h("th", { scope: "col", class: "num" }, "Scale"),
            h("th", { scope: "col", class: "num" }, "n"),
            h("th", { scope: "col", class: "num" }, "Suggested"))),
          h("tbody", {}, suggested.rules.map((r) => h("tr", { "data-rule": r.name },
            h("th", { scope: "row" }, r.name),
            h("td", { "data-label": "Kind of evidence" }, h("code", {}, r.kinds)),
            h("td", { class: "num", "data-label": "Now", "data-now": "" }, factor(r.bayes_factor)),
            h("td", { class: "num", "data-label": "Scale" }, h("span", { "data-scale": "" }, num(r.scale)), scaleMark(r.scale)),
            h("td", { class: "num", "data-label": "n", "data-n": "" }, String(nOf.get(r.kinds) ?? 0)),
            h("td", { class: "num", "data-label": "Suggested", "data-suggested": "" }, factor(r.suggested_bayes_factor))))))),
      action, result);
    offer(action, cal);
  }

  async function offer(action, cal) {
    admin ??= mayStartBacktests().catch(() => false);
    const may = await admin;
    if (!alive) return;
    if (!may) {
      put(action, h("p", { class: "hint", "data-try-needs-admin": "" },
        "Trying the suggestions in a backtest needs an API key with the admin scope; this one can only read."));
      return;
    }
    const button = h("button", { type: "button", "data-try-suggestions": "", "data-write": "admin" }, "Try the suggestions");
    button.addEventListener("click", () => start(button, cal));
    put(action,
      button,
      h("p", { class: "hint" }, "Starts two backtests over the whole history, weekly: every scenario's rules with the suggested factors, and the rules as they are, scored on every resolved scenario."));
  }

  async function start(button, cal) {
    button.disabled = true;
    put(result, h("p", { role: "status" }, "Starting…"));
    try {
      const { scenarios } = await get("/v1/scenarios");
      const window = { from: `${earliest(scenarios)}T00:00:00Z`, to: `${new Date().toISOString().slice(0, 10)}T00:00:00Z`, step: "P7D" };
      const rules = suggestedRules(scenarios, cal.evidence_scales || []);
      const post = (body) => request("/v1/backtests", { method: "POST", body }, "admin").then((r) => r.data.id);
      const [current, trial] = await Promise.all([post(window), post({ ...window, rules })]);
      watch(current, trial);
    } catch (err) {
      put(result, h("p", { class: "error", role: "alert" }, `Not started: ${err.message}`));
    } finally {
      button.disabled = false;
    }
  }

  async function watch(current, trial) {
    clearTimeout(timer);
    let pair;
    try {
      pair = await Promise.all([current, trial].map((id) => get(`/v1/backtests/${encodeURIComponent(id)}`)));
    } catch (err) {
      put(result, h("p", { class: "error" }, `Could not follow the backtests: ${err.message}`));
      return;
    }
    if (!alive) return;
    const [a, b] = pair;
    const link = (bt, text) => h("a", { href: `#/backtests/${encodeURIComponent(bt.id)}`, "data-backtest": bt.id }, text);
    const cell = (bt, key, digits) => (bt.status === "done" ? num(bt.scores.overall[key], digits) : bt.status === "failed" ? "failed" : `running ${Math.round(bt.progress * 100)}%`);
    put(result,
      h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Backtests of the rules and of the suggestions, scrollable" },
        h("table", { class: "try-table" },
          h("caption", {}, "The rules as defined against the suggested factors, each a backtest of the whole history, weekly (lower Brier and log score are better, higher skill)"),
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Score"),
            h("th", { scope: "col", class: "num" }, link(a, "As defined")),
            h("th", { scope: "col", class: "num" }, link(b, "Suggested")))),
          h("tbody", {}, [["brier", "Brier", 3], ["skill", "Skill", 3], ["log", "Log score", 3], ["n_scenarios", "Scenarios", 0]].map(([key, label, digits]) =>
            h("tr", { "data-score": key },
              h("th", { scope: "row" }, label),
              h("td", { class: "num", "data-current": "" }, cell(a, key, digits)),
              h("td", { class: "num", "data-trial": "" }, cell(b, key, digits))))))));
    const running = [a, b].some((bt) => bt.status !== "done" && bt.status !== "failed");
    if (running) timer = setTimeout(() => watch(current, trial), POLL_MS);
  }

  return {
    draw,
    destroy() {
      alive = false;
      clearTimeout(timer);
    },
  };
}
