// On the scenario page, for an admin: resolve the scenario (outcome, when,
// a note) or, once resolved, retract a wrong resolution (with its reason) so it
// can be resolved anew. The service's checks (resolved_at in [opens_at, now],
// nothing resolved twice, nothing to retract) come back as 422/409 and are
// shown at their fields.

import { send } from "./api.js";
import { announce, h } from "./dom.js";
import { errorsOf, showErrors } from "./formerrors.js";
import { day } from "./format.js";
import { fromLocalInput, offsetHint, toLocalInput } from "./localtime.js";
import { writeGate } from "./session.js";

const OUTCOMES = [
  ["yes", "Yes: it happened"],
  ["no", "No: it did not (may be dated at the deadline)"],
  ["annulled", "Annulled: the question no longer makes sense"],
];

/** A 409 (resolved twice, nothing to retract) placed at `field`, the others as they come. */
function placed(error, field) {
  if (error.status === 409) return [{ field, message: error.message }];
  return errorsOf(error);
}

function resolveForm(path, done) {
  const summary = h("div", { class: "form-errors", role: "alert", tabindex: "-1" });
  const when = h("input", {
    id: "res-at", name: "resolved_at", type: "datetime-local", required: true, "data-field": "resolved_at",
    value: toLocalInput(new Date().toISOString()), "aria-describedby": "res-at-hint",
    oninput: (e) => { hint.textContent = offsetHint(e.target.value); },
  });
  const hint = h("span", { class: "hint", id: "res-at-hint" }, offsetHint(when.value));
  const outcome = h("select", { id: "res-outcome", name: "outcome", "data-field": "outcome" },
    OUTCOMES.map(([value, label]) => h("option", { value }, label)));
  const note = h("textarea", { id: "res-note", name: "note", rows: 2, maxlength: 2000, "data-field": "note" });
  const button = h("button", { type: "submit", "data-resolve": "" }, "Resolve");
  const form = h("form", {
    class: "resolve", novalidate: true, "data-write": "admin",
    onsubmit: async (e) => {
      e.preventDefault();
      const body = { outcome: outcome.value, resolved_at: fromLocalInput(when.value) ?? "" };
      if (note.value.trim()) body.note = note.value.trim();
      button.disabled = true;
      try {
        await send(`/v1/scenarios/${path}/resolution`, "POST", body, "admin");
        announce(`Resolved ${body.outcome}.`);
        done();
      } catch (error) {
        const first = showErrors(form, summary, placed(error, "outcome"), "Not resolved:");
        (first || summary).focus();
      } finally {
        button.disabled = false;
      }
    },
  },
  summary,
  h("div", { class: "cell" }, h("label", { for: "res-outcome" }, "Outcome"), outcome),
  h("div", { class: "cell" }, h("label", { for: "res-at" }, "Resolved at"), when, hint),
  h("div", { class: "cell" }, h("label", { for: "res-note" }, "Note (optional)"), note),
  h("div", { class: "actions" }, button));
  return form;
}

function retractForm(path, resolution, done) {
  const summary = h("div", { class: "form-errors", role: "alert", tabindex: "-1" });
  const reason = h("textarea", { id: "ret-reason", name: "reason", rows: 2, required: true, maxlength: 2000, "data-field": "reason" });
  const button = h("button", { type: "submit", class: "danger", "data-retract-resolution": "" }, "Retract the resolution");
  const form = h("form", {
    class: "retract", novalidate: true, "data-write": "admin",
    onsubmit: async (e) => {
      e.preventDefault();
      button.disabled = true;
      try {
        await send(`/v1/scenarios/${path}/resolution/retraction`, "POST", { reason: reason.value.trim() }, "admin");
        announce("Resolution retracted: it can be resolved anew.");
        done();
      } catch (error) {
        const first = showErrors(form, summary, placed(error, "reason"), "Not retracted:");
        (first || summary).focus();
      } finally {
        button.disabled = false;
      }
    },
  },
  summary,
  h("p", {}, `Resolved "${resolution.outcome}" on ${day(resolution.resolved_at)}. If that is wrong, retract it (it stays in the log, and forecasts known before now still see it), then resolve it anew.`),
  h("div", { class: "cell" }, h("label", { for: "ret-reason" }, "Why it is wrong"), reason),
  h("div", { class: "actions" }, button));
  return form;
}

/** The resolution panel of scenario `sc` (the GET /v1/scenarios/{id} answer);
 * `done()` reloads the page's data after a change. */
export function resolutionPanel(sc, done) {
  const path = encodeURIComponent(sc.id);
  return sc.resolution
    ? writeGate("admin", "retract this resolution", () => retractForm(path, sc.resolution, done))
    : writeGate("admin", "resolve this scenario", () => resolveForm(path, done));
}
