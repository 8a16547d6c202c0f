// The recalibration learnt from closed scenarios, explained on a scenario page:
// the calibrated probability beside the model's (which stays the headline), and
// alpha and beta in words.

import { h } from "./dom.js";
import { pct, range } from "./format.js";

/** Within this of 0 (alpha) or 1 (beta) the recalibration is said to change nothing. */
export const NEAR = 0.05;

const two = (x) => x.toFixed(2);

/** The recalibration expit(alpha + beta * logit) in words: beta < 1, the rules'
 * evidence was overconfident (it counts beta of its stated weight); alpha > 0,
 * outcomes came more often than forecast. */
export function recalibrationWords(alpha, beta) {
  const weighed = Math.abs(beta - 1) < NEAR;
  const centred = Math.abs(alpha) < NEAR;
  if (weighed && centred) {
    return "The rules have been well calibrated: evidence counts about its stated weight, and outcomes came about as often as forecast.";
  }
  const evidence = weighed
    ? "The rules' evidence has been about right: it counts about its stated weight"
    : beta < 1
      ? `The rules have been overconfident: evidence counts ${two(beta)} of its stated weight`
      : `The rules have been underconfident: evidence counts ${two(beta)} times its stated weight`;
  const outcomes = centred
    ? "outcomes came about as often as forecast"
    : alpha > 0
      ? `outcomes came more often than forecast (alpha ${two(alpha)})`
      : `outcomes came less often than forecast (alpha ${two(alpha)})`;
  return `${evidence}; ${outcomes}.`;
}

/** The calibrated probability for the headline's facts (a dt and a dd). */
export function calibratedFacts(fc, calibration) {
  const c = fc.calibrated;
  const value = c
    ? [h("span", { "data-calibrated": "", "data-value": String(c.probability), "data-as-of": fc.as_of }, pct(c.probability)),
      h("span", { class: "muted", "data-calibrated-interval80": "" }, ` (80% interval ${range(c.interval80)})`)]
    : h("span", { "data-calibrated": "", "data-value": "" },
      calibration && calibration.alpha !== null ? "— (a settled probability is not recalibrated)" : "— (no calibration yet)");
  return [h("dt", {}, "Calibrated"), h("dd", { class: "calibrated" }, value)];
}

/** "Learning from outcomes": the recalibration in words and the scenarios it was learnt from. */
export function calibrationSection(calibration) {
  if (!calibration || calibration.alpha === null || calibration.alpha === undefined) {
    const n = calibration ? calibration.n_scenarios : 0;
    return h("p", { class: "no-calibration", "data-no-calibration": "" },
      `No calibration yet: fewer than 5 scenarios have closed (${n} so far). Until then the model's probability is shown alone.`);
  }
  const { alpha, beta, n_scenarios: n, scenario_ids: ids } = calibration;
  return h("div", { class: "calibration" },
    h("p", { class: "recalibration", "data-recalibration": "", "data-alpha": String(alpha), "data-beta": String(beta) },
      recalibrationWords(alpha, beta)),
    h("p", { class: "hint" },
      `The calibrated probability is expit(α + β × logit) with α = ${alpha.toFixed(3)}, β = ${beta.toFixed(3)}: the model's forecast corrected by how the rules' forecasts turned out. The headline stays the model's.`),
    h("details", { class: "learnt-from" },
      h("summary", { "data-learnt-from": String(n) }, `Learnt from ${n} closed scenario${n === 1 ? "" : "s"}`),
      h("ul", { class: "closed-list" }, (ids || []).map((sid) =>
        h("li", {}, h("a", { href: `#/scenario/${encodeURIComponent(sid)}` }, sid))))));
}
