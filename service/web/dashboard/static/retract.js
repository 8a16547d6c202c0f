// Retract an event from the events list: a "Retract" button per event (for a
// key with the write scope) opens a small form asking for the reason, which
// POSTs /v1/events/{id}/retraction.

import { ApiError, send } from "./api.js";
import { announce, h } from "./dom.js";

/**
 * The retract control of event `ev` (null when already retracted). `open` says
 * whether its form is shown; `state` keeps the draft reason across redraws
 * (and `focus`: move the focus into the form once drawn);
 * `toggle(id|null)` opens or closes a form; `done()` after a retraction.
 */
export function retractControl(ev, { open, state, toggle, done }) {
  if (ev.retracted) return null;
  const id = ev.event_id;
  if (!open) {
    return h("div", { class: "retract", "data-write": "write" },
      h("button", { type: "button", class: "quiet", "aria-label": `Retract “${ev.summary}”`, onclick: () => toggle(id) }, "Retract"));
  }
  const inputId = `retract-${id}`;
  const error = h("p", { class: "field-error", id: `${inputId}-error`, role: "alert", hidden: true });
  const reason = h("input", {
    id: inputId, name: "reason", value: state.reason || "", "aria-required": "true", "aria-describedby": error.id, maxlength: 2000,
    oninput: (e) => { state.reason = e.target.value; },
    onkeydown: (e) => { if (e.key === "Escape") { e.preventDefault(); toggle(null); } },
  });
  const submit = h("button", { type: "submit" }, "Retract the event");
  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
    reason.setAttribute("aria-invalid", "true");
    reason.focus();
  };
  const form = h("form", {
    class: "retract retract-form", "data-write": "write", novalidate: true, "aria-label": `Retract “${ev.summary}”`,
    onsubmit: async (e) => {
      e.preventDefault();
      if (!reason.value.trim()) {
        fail("Say why the event is retracted.");
        return;
      }
      submit.disabled = true;
      try {
        const receipt = await send(`/v1/events/${encodeURIComponent(id)}/retraction`, "POST", { reason: reason.value.trim() }, "write");
        state.reason = "";
        announce(`Event retracted at position ${receipt.position}`);
        done(receipt);
      } catch (err) {
        const errors = err instanceof ApiError && err.problem && err.problem.errors;
        fail(errors ? errors.map((x) => x.message).join("; ") : err.message);
      } finally {
        submit.disabled = false;
      }
    },
  },
  h("label", { for: inputId }, "Reason for the retraction", h("span", { class: "required", "aria-hidden": "true" }, " *")),
  reason, error,
  h("div", { class: "actions" }, submit, h("button", { type: "button", class: "quiet", onclick: () => toggle(null) }, "Cancel")));
  if (state.focus) {
    state.focus = false;
    queueMicrotask(() => reason.focus());
  }
  return form;
}
