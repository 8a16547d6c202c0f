// "Why it moved" as a table: each contribution from the prior to the logit, in
// percentage points with its bar, shared by the scenario page and the editor
// (which draws the saved version's and the draft's side by side).

import { waterfallBar } from "./charts.js";
import { h } from "./dom.js";
import { day, logOdds, pct, points as ppText } from "./format.js";

const exactTime = (at) => `${at.slice(0, 10)} ${at.slice(11, 19)} UTC`;
const CLOSED_AS = {
  resolved_yes: "resolved yes",
  resolved_no: "resolved no",
  annulled: "annulled",
  expired: "expired at its deadline",
};

/** The waterfall of a forecast with its contributions (`caption` replaces the default). */
export function waterfall(fc, { caption = null } = {}) {
  const contributions = fc.contributions || [];
  if (!contributions.length) {
    return h("p", {}, "No contributions to show.");
  }
  const explained = fc.explained || { probability: fc.probability, logit: fc.logit };
  // pp (percentage points) of each contribution along the waterfall: the probability
  // goes from 0 to the prior, then moves by each one's pp in the listed order.
  let running = 0;
  let runningLogit = 0;
  let eventNumber = 0;
  const steps = contributions.map((c) => {
    const before = running;
    running += c.pp / 100;
    runningLogit += c.log_odds;
    if (c.kind === "event") eventNumber += 1;
    return { c, before, after: running, number: c.kind === "event" ? eventNumber : null };
  });
  const reach = steps.flatMap((st) => [st.after, st.before + (st.c.pp_then ?? 0) / 100]);
  const scale = { min: 0, max: Math.min(1, Math.max(0.05, ...reach)) };
  const describe = (c) => {
    if (c.kind === "prior") return "Prior";
    if (c.kind === "time") return "Time remaining (less time left, lower odds)";
    return c.summary;
  };
  const arrow = (x) => (x >= 0 ? "▲ " : "▼ ");
  const sign = (x) => (x >= 0 ? "up" : "down");
  return h("div", { class: "waterfall-box" },
    fc.explained ? h("p", { class: "explained", "data-explained-at": fc.explained.at },
      `Explained at ${exactTime(fc.explained.at)}, just before it closed (${CLOSED_AS[fc.explained.closed_as] || fc.explained.closed_as}), when it was ${pct(explained.probability)}.`) : null,
    h("p", { class: "hint" },
      "Each row moves the probability by its percentage points (pp), in the order counted: the bars add up from the prior to the ",
      fc.explained ? "probability explained" : "forecast",
      ". A solid bar is an event's effect now (decayed, discounted); the outline, its effect when it happened, the jump the history chart shows on that day."),
    h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Contributions, scrollable" },
      h("table", { class: "waterfall stack" },
        h("caption", {}, caption || (fc.explained ? "Contributions from the prior to the probability just before it closed" : "Contributions from the prior to the current probability")),
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "#"),
          h("th", { scope: "col" }, "What"),
          h("th", { scope: "col" }, "Date"),
          h("th", { scope: "col" }, "Rule"),
          h("th", { scope: "col", class: "num" }, "When it happened"),
          h("th", { scope: "col", class: "num" }, fc.explained ? "At close" : "Now"),
          h("th", { scope: "col", class: "num" }, "Probability"),
          h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Bar"), h("span", { "aria-hidden": "true" }, "")))),
        h("tbody", {}, steps.map((st) => h("tr", { "data-kind": st.c.kind, "data-log-odds": String(st.c.log_odds), "data-pp": String(st.c.pp) },
          h("td", { "data-label": "Event" }, st.number ?? ""),
          h("th", { scope: "row" }, describe(st.c)),
          h("td", { class: "date", "data-label": "Date" }, st.c.occurred_at ? day(st.c.occurred_at) : ""),
          h("td", { "data-label": "Rule" }, st.c.rule || ""),
          st.c.kind === "event"
            ? h("td", { class: `num ${sign(st.c.log_odds_then)}`, "data-then": "", "data-label": "When it happened" },
              h("span", { class: "pp" }, ppText(st.c.pp_then / 100)),
              h("span", { class: "lo" }, logOdds(st.c.log_odds_then)))
            : h("td", {}),
          h("td", { class: `num ${st.c.kind === "prior" ? "" : sign(st.c.log_odds)}`, "data-label": fc.explained ? "At close" : "Now" },
            h("span", { class: "pp" }, st.c.kind === "prior" ? pct(st.after) : ppText(st.c.pp / 100)),
            h("span", { class: "lo", "data-effect": "" }, `${st.c.kind === "prior" ? "" : arrow(st.c.log_odds)}${logOdds(st.c.log_odds)}`)),
          h("td", { class: "num", "data-label": "Probability" }, pct(st.after)),
          h("td", {}, waterfallBar(st.before, st.after, scale, {
            kind: st.c.kind === "prior" ? "prior" : "step",
            then: st.c.kind === "event" ? st.before + st.c.pp_then / 100 : null,
          }))))),
        h("tfoot", {}, h("tr", {},
          h("td", {}),
          h("th", { scope: "row", colspan: "3" }, "Sum of the contributions"),
          h("td", {}),
          h("td", { class: "num", "data-label": "Sum" },
            h("span", { class: "pp" }, `${(running * 100).toFixed(1)} pp`),
            h("span", { class: "lo", "data-logit-sum": String(runningLogit) }, logOdds(runningLogit))),
          h("td", { class: "num", "data-final-probability": "", "data-logit": String(explained.logit), "data-label": "Probability" }, pct(explained.probability)),
          h("td", {}, waterfallBar(0, running, scale, { kind: "total" })))))));
}
