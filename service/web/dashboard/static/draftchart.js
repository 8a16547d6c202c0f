// The editor's preview: the draft beside the saved version. One history chart
// (the draft with its bands, the saved version as a dashed line over the same
// days) and the two waterfalls side by side, from two preview answers.

import { historyChart } from "./charts.js";
import { h, put } from "./dom.js";
import { day, pct, points as ppText } from "./format.js";
import { waterfall } from "./waterfall.js";

const marksOf = (fc) => (fc.contributions || []).filter((c) => c.kind === "event").map((c, i) => ({ ...c, number: i + 1 }));

/** Draw the `draft` preview answer beside `saved` (null for a new scenario): the
 * headline and the chart into `box`, the two waterfalls into `waterfalls`. */
export function drawComparison(box, waterfalls, draft, saved) {
  const fc = draft.forecast;
  const points = draft.history.points;
  const last = [...points].reverse().find((p) => p.probability !== null);
  const moved = saved && fc.probability !== null && saved.forecast.probability !== null
    ? fc.probability - saved.forecast.probability : null;
  const label = last
    ? `Draft probability from ${day(points[0].t)} to ${day(last.t)} (${pct(last.probability)}), with 80% and 95% bands${saved ? "; the saved version as a dashed line" : ""}.`
    : "No history to draw.";
  put(box,
    h("p", { class: "compare-headline" },
      saved ? [h("span", {}, "Saved version: "), h("strong", { "data-saved-probability": String(saved.forecast.probability ?? "") }, pct(saved.forecast.probability)), " · "] : null,
      h("span", {}, "Draft: "), h("strong", { "data-draft-probability": String(fc.probability ?? "") }, pct(fc.probability)),
      moved === null ? "" : ` (${ppText(moved)})`,
      h("span", { class: "hint", "data-as-of": fc.as_of }, ` as of ${fc.as_of.slice(0, 16).replace("T", " ")} UTC`)),
    draft.before_opens ? h("p", { class: "hint", "data-before-opens": String(draft.before_opens) },
      `${draft.before_opens} matching event${draft.before_opens === 1 ? "" : "s"} occurred before opens_at and are not counted (they belong in the prior).`) : null,
    h("ul", { class: "legend" },
      h("li", {}, h("span", { class: "swatch line" }), "draft"),
      saved ? h("li", {}, h("span", { class: "swatch line compare" }), "saved version") : null,
      h("li", {}, h("span", { class: "swatch b80" }), "80% interval"),
      h("li", {}, h("span", { class: "swatch b95" }), "95% interval")),
    historyChart(points, marksOf(fc), {
      label,
      compare: saved ? saved.history.points : null,
      width: Math.round(Math.min(760, Math.max(320, box.clientWidth || 760))),
    }));
  put(waterfalls,
    h("div", { class: "side-by-side" },
      saved ? h("section", { class: "saved-waterfall", "aria-labelledby": "wf-saved" },
        h("h3", { id: "wf-saved" }, `Saved version: ${pct(saved.forecast.probability)}`),
        waterfall(saved.forecast, { caption: "Contributions of the saved version" })) : null,
      h("section", { class: "draft-waterfall", "aria-labelledby": "wf-draft" },
        h("h3", { id: "wf-draft" }, `Draft: ${pct(fc.probability)}`),
        waterfall(fc, { caption: "Contributions of the draft" }))));
}
