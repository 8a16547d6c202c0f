// The form that defines or changes an alert (PUT /v1/alerts/{id}, admin): the
// scenarios it watches (every one, or those chosen), when it fires (crossing a
// probability, or moving by some points within a window), the webhook and its
// secret. The secret is write-only: the service keeps it and never shows it
// back, so a change is saved with the secret entered again (or a new one).
// A 422's messages are shown at their fields and in a summary at the top.

import { ApiError, send } from "./api.js";
import { h } from "./dom.js";

const SLUG = "[a-z0-9][a-z0-9\\-]{2,79}";
const DAY_S = 86400;

/** Days in an ISO 8601 duration as the service writes one ("P1D", "PT43200S"). */
export function durationDays(text) {
  const m = /^P(?:([\d.]+)D)?(?:T(?:([\d.]+)H)?(?:([\d.]+)M)?(?:([\d.]+)S)?)?$/.exec(text || "");
  if (!m) return null;
  const [d, hh, mm, ss] = m.slice(1).map((x) => Number(x || 0));
  return d + hh / 24 + mm / 1440 + ss / DAY_S;
}

/** "crosses 60.0%" or "moves by 10.0 pp within 1 day". */
export function conditionText(c) {
  if (c.crosses !== undefined && c.crosses !== null) return `the probability crosses ${(c.crosses * 100).toFixed(1)}%`;
  const days = durationDays(c.within);
  const span = days === null ? c.within : `${+days.toFixed(3)} ${days === 1 ? "day" : "days"}`;
  return `the probability moves by ${(c.moves_by * 100).toFixed(1)} pp within ${span}`;
}

function field(id, label, control, hint) {
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field", "data-field-of": id },
    h("label", { for: id }, label), control, hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

function radio(name, value, label, checked, onchange) {
  const id = `${name}-${value}`;
  return h("div", { class: "field check" },
    h("input", { type: "radio", id, name, value, checked, onchange }),
    h("label", { for: id }, label));
}

/**
 * The form for `alert` (null: a new one). `scenarios` is GET /v1/scenarios'
 * list; `onSaved(alertView)` runs after a PUT answered; `onCancel()` on Cancel.
 */
export function alertForm({ alert, scenarios, onSaved, onCancel }) {
  const editing = Boolean(alert);
  const c = alert ? alert.condition : { crosses: 0.5 };
  const watched = new Set((alert && alert.scenario_ids) || []);
  const known = new Set(scenarios.map((s) => s.id));

  const summary = h("div", { class: "error form-errors", id: "alert-form-errors", role: "alert", tabindex: "-1" });
  const id = h("input", { id: "alert-id", name: "id", required: true, pattern: SLUG, autocomplete: "off",
    value: alert ? alert.id : "", readonly: editing, spellcheck: "false" });

  const boxes = scenarios.map((s) => {
    const box = h("input", { type: "checkbox", id: `alert-scenario-${s.id}`, value: s.id, checked: watched.has(s.id) });
    return { id: s.id, box, row: h("li", { class: "field check" }, box, h("label", { for: box.id }, s.definition.title, " ", h("code", {}, s.id))) };
  });
  const other = h("input", { id: "alert-other", autocomplete: "off", spellcheck: "false",
    value: [...watched].filter((s) => !known.has(s)).join(", ") });
  const chooser = h("div", { class: "alert-chooser" },
    h("ul", { class: "alert-scenarios", "aria-label": "Scenarios to watch" }, boxes.map((b) => b.row)),
    field("alert-other", "Other scenario ids (comma-separated)", other,
      "Scenarios not in the list above, by id; they must exist when the alert is saved."));
  const showChooser = () => { chooser.hidden = form.elements["alert-scope"].value !== "some"; };
  const scope = h("fieldset", { id: "alert-scope-set" },
    h("legend", {}, "Scenarios watched"),
    radio("alert-scope", "all", "Every scenario (also those defined later)", !alert || alert.scenario_ids === null, showChooser),
    radio("alert-scope", "some", "Only the scenarios chosen below", Boolean(alert && alert.scenario_ids !== null), showChooser),
    chooser);

  const moves = c.moves_by !== undefined && c.moves_by !== null;
  const crosses = h("input", { id: "alert-crosses", type: "number", min: "0.1", max: "99.9", step: "0.1", required: true,
    value: moves ? "50" : String(+(c.crosses * 100).toFixed(1)) });
  const movesBy = h("input", { id: "alert-moves", type: "number", min: "0.1", max: "100", step: "0.1", required: true,
    value: moves ? String(+(c.moves_by * 100).toFixed(1)) : "10" });
  const within = h("input", { id: "alert-within", type: "number", min: "0.01", max: "366", step: "any", required: true,
    value: moves ? String(+durationDays(c.within).toFixed(3)) : "1" });
  const crossFields = h("div", { class: "form-grid" },
    field("alert-crosses", "Probability to cross (%)", crosses, "Fires when the forecast moves from one side of it to the other, either way."));
  const moveFields = h("div", { class: "form-grid" },
    field("alert-moves", "Moves by (percentage points)", movesBy),
    field("alert-within", "Within (days)", within, "Compared with the probability served this long ago."));
  const showKind = () => {
    const kind = form.elements["alert-kind"].value;
    crossFields.hidden = kind !== "crosses";
    moveFields.hidden = kind !== "moves";
    for (const input of crossFields.querySelectorAll("input")) input.disabled = kind !== "crosses";
    for (const input of moveFields.querySelectorAll("input")) input.disabled = kind !== "moves";
  };
  const condition = h("fieldset", { id: "alert-condition-set" },
    h("legend", {}, "When it fires"),
    radio("alert-kind", "crosses", "The probability crosses a threshold", !moves, showKind),
    radio("alert-kind", "moves", "The probability moves by some points within a window", moves, showKind),
    crossFields, moveFields);

  const url = h("input", { id: "alert-url", type: "url", required: true, maxlength: "2000", autocomplete: "off",
    value: alert ? alert.url : "", placeholder: "https://example.org/hooks/tradewinds" });
  const secret = h("input", { id: "alert-secret", type: "password", required: true, maxlength: "512", autocomplete: "new-password" });
  const secretHint = editing
    ? "A secret is kept for this alert; it is never shown back. Enter it again (or a new one) to save a change."
    : "Signs each delivery (HMAC-SHA256 in the Tradewinds-Signature header). The service keeps it and never shows it back.";
  const submit = h("button", { type: "submit" }, editing ? "Save changes" : "Create alert");
  const cancel = h("button", { type: "button", class: "quiet", onclick: () => onCancel() }, "Cancel");

  const form = h("form", { class: "card alert-form", "aria-labelledby": "alert-form-title", novalidate: false, onsubmit: save },
    h("h2", { id: "alert-form-title" }, editing ? `Change alert ${alert.id}` : "New alert"),
    summary,
    field("alert-id", "Alert id", id, editing ? "The id cannot change; delete the alert and create another to rename it." : "3 to 80 characters: lowercase letters, digits and hyphens."),
    scope, condition,
    field("alert-url", "Webhook URL", url, "Each firing POSTs a JSON body here, retried until it answers 2xx."),
    field("alert-secret", "Webhook secret", secret, secretHint),
    h("div", { class: "actions" }, submit, cancel));
  showChooser();
  showKind();

  /** The watched ids in the order sent, each with the control it came from. */
  function chosen() {
    if (form.elements["alert-scope"].value !== "some") return null;
    const fromBoxes = boxes.filter((b) => b.box.checked).map((b) => ({ id: b.id, control: b.box }));
    const typed = other.value.split(/[\s,]+/).filter(Boolean).map((s) => ({ id: s, control: other }));
    return [...fromBoxes, ...typed];
  }

  function body(watch) {
    const kind = form.elements["alert-kind"].value;
    return {
      scenario_ids: watch === null ? null : watch.map((w) => w.id),
      condition: kind === "crosses"
        ? { crosses: Number(crosses.value) / 100 }
        : { moves_by: Number(movesBy.value) / 100, within: `PT${Math.round(Number(within.value) * DAY_S)}S` },
      url: url.value.trim(),
      secret: secret.value,
    };
  }

  function clearErrors() {
    summary.replaceChildren();
    for (const el of form.querySelectorAll(".field-error")) el.remove();
    for (const el of form.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
      const ids = (el.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && !x.startsWith("err-"));
      if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
      else el.removeAttribute("aria-describedby");
    }
  }

  /** The control a problem's `field` names (for scenario_ids[i]: the one that gave the i-th id). */
  function controlFor(name, watch) {
    const at = /^scenario_ids\[(\d+)\]$/.exec(name || "");
    if (at && watch && watch[Number(at[1])]) return watch[Number(at[1])].control;
    const byName = {
      alert_id: id, url, secret, scenario_ids: form.elements["alert-scope"][1],
      condition: form.elements["alert-kind"][0], "condition.crosses": crosses,
      "condition.moves_by": movesBy, "condition.within": within,
    };
    return byName[name] || null;
  }

  let errorCount = 0;
  function showErrors(errors, watch) {
    const invalid = [];
    for (const e of errors) {
      const control = controlFor(e.field, watch);
      summary.append(h("p", {}, e.field ? `${e.field}: ${e.message}` : e.message));
      if (!control) continue;
      const msgId = `err-${++errorCount}`;
      const holder = control.closest(".field") || control.parentElement;
      holder.append(h("p", { class: "error field-error", id: msgId }, e.message));
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", `${msgId} ${control.getAttribute("aria-describedby") || ""}`.trim());
      invalid.push(control);
    }
    const first = [...form.querySelectorAll("[aria-invalid]")].find((el) => invalid.includes(el));
    (first || summary).focus();
  }

  async function save(e) {
    e.preventDefault();
    clearErrors();
    const watch = chosen();
    submit.disabled = true;
    try {
      const saved = await send(`/v1/alerts/${encodeURIComponent(id.value.trim())}`, "PUT", body(watch), "admin");
      onSaved(saved);
    } catch (err) {
      const errors = err instanceof ApiError && err.problem && err.problem.errors;
      if (err instanceof ApiError && err.status === 422 && errors && errors.length) {
        summary.prepend(h("p", {}, "Not saved: the service refused these fields."));
        showErrors(errors, watch);
      } else {
        summary.append(h("p", {}, `Not saved: ${err.message}`));
        summary.focus();
      }
    } finally {
      submit.disabled = false;
    }
  }

  return form;
}
