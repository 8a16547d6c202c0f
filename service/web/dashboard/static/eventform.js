// "Add an event": choose a kind, fill in its fields (built from the OpenAPI
// schema, schemafields.js + fields.js), see which stored events the draft looks
// like while typing (POST /v1/events/duplicates, which stores nothing), save
// with POST /v1/events. A 422's messages go next to their fields.

import { ApiError, get, send } from "./api.js";
import { announce, h, put } from "./dom.js";
import { day } from "./format.js";
import { field, flatten } from "./fields.js";

const DEBOUNCE_MS = 300;
const idFor = (path) => `ev-${path.replaceAll(".", "-")}`;

/** The stored events `ids` names, as a list (title, kind, date, a way to it). */
async function lookAlikes(ids, reveal) {
  const found = await Promise.all(ids.map((id) => get(`/v1/events/${encodeURIComponent(id)}`).catch(() => null)));
  return h("ul", { class: "look-alikes" }, found.map((ev, i) => h("li", { "data-event-id": ids[i] },
    ev ? [h("strong", {}, ev.summary), ` · ${ev.kind.replaceAll("_", " ")} · occurred `, h("time", { datetime: ev.occurred_at }, day(ev.occurred_at)), " · "]
      : `event ${ids[i].slice(0, 8)} · `,
    h("button", { type: "button", class: "linkish", onclick: () => reveal(ids[i]) }, `show ${ids[i].slice(0, 8)}`))));
}

/**
 * The form. `kinds`: eventKinds(); `onSaved(receipt)` after a 201 or 200;
 * `reveal(id)` brings a listed event into view.
 */
export function eventForm(kinds, { onSaved, reveal }) {
  let fields = [];
  let ticket = 0;
  let timer = null;
  const reused = new Map(); // a field kept across kinds when its spec is the same (summary, source…)

  const problems = h("div", { class: "form-problems", role: "alert", id: "event-form-problems", hidden: true });
  const kindSelect = h("select", { id: "new-event-kind", name: "kind", "aria-required": "true", "aria-describedby": "new-event-kind-error", onchange: () => drawFields() },
    h("option", { value: "" }, "Choose…"),
    kinds.map((k) => h("option", { value: k.kind }, k.title)));
  const kindError = h("p", { class: "field-error", id: "new-event-kind-error", hidden: true });
  const kindHint = h("p", { class: "hint" });
  const box = h("div", { class: "event-fields" });
  const looks = h("section", { class: "looks-like", "aria-labelledby": "looks-like-title" },
    h("h3", { id: "looks-like-title" }, "Looks like"),
    h("div", { id: "looks-like", "aria-live": "polite" }, h("p", { class: "meta" }, "Choose a kind and fill in its fields to see look-alikes.")));
  const saved = h("div", { class: "saved", id: "event-saved", role: "status" });
  const submit = h("button", { type: "submit" }, "Add the event");

  const form = h("form", { id: "event-form", class: "event-form", "data-write": "write", novalidate: true, "aria-labelledby": "event-form-title", onsubmit: save },
    h("h2", { id: "event-form-title" }, "Add an event"),
    h("p", { class: "hint" }, "Fields marked * are required. Times are entered in your time and stored in UTC."),
    problems,
    h("div", { class: "field" },
      h("label", { for: "new-event-kind" }, "Type of event", h("span", { class: "required", "aria-hidden": "true" }, " *")),
      kindSelect, kindHint, kindError),
    box,
    looks,
    h("div", { class: "actions" }, submit),
    saved);

  function drawFields() {
    const kind = kinds.find((k) => k.kind === kindSelect.value);
    kindHint.textContent = kind && kind.description ? kind.description : "";
    fields = kind ? kind.fields.map((spec) => {
      const key = JSON.stringify(spec);
      if (!reused.has(key)) reused.set(key, field(spec, idFor(spec.path), changed));
      return reused.get(key);
    }) : [];
    box.replaceChildren(...fields.map((f) => f.node));
    changed();
  }

  function body() {
    const out = { kind: kindSelect.value };
    for (const f of fields) {
      const value = f.read();
      if (value !== undefined) out[f.path] = value;
    }
    return out;
  }

  function changed() {
    clearTimeout(timer);
    timer = setTimeout(check, DEBOUNCE_MS);
  }

  async function check() {
    const mine = ++ticket;
    const where = document.getElementById("looks-like") || looks.lastChild;
    if (!kindSelect.value) return;
    try {
      const answer = await send("/v1/events/duplicates", "POST", body(), "write");
      if (mine !== ticket) return;
      const ids = answer.possible_duplicates;
      const shown = ids.length
        ? [h("p", { class: "error duplicate" }, `This draft looks like ${ids.length === 1 ? "an event" : `${ids.length} events`} already stored:`), await lookAlikes(ids, reveal)]
        : [h("p", { class: "meta" }, "No stored event looks like this draft.")];
      if (mine === ticket) where.replaceChildren(...shown);
    } catch (error) {
      if (mine !== ticket) return;
      const text = error instanceof ApiError && error.status === 422
        ? "Fill in the required fields to check for look-alikes."
        : `Could not check for look-alikes: ${error.message}`;
      where.replaceChildren(h("p", { class: "meta" }, text));
    }
  }

  function clearErrors() {
    problems.hidden = true;
    problems.replaceChildren();
    kindError.hidden = true;
    kindSelect.removeAttribute("aria-invalid");
    flatten(fields).forEach((f) => f.clear());
  }

  /** Each message next to its field (by its path, list indexes dropped), all in the summary. */
  function showErrors(errors) {
    const all = flatten(fields);
    const marked = new Map();
    const targets = errors.map((e) => {
      const path = (e.field || "").replace(/\[\d+\]/g, "");
      if (path === "kind") return { focus: () => kindSelect.focus(), show: (m) => { kindError.textContent = m; kindError.hidden = false; kindSelect.setAttribute("aria-invalid", "true"); }, node: kindSelect };
      let target = null;
      for (let p = path; p && !target; p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "") {
        target = all.find((f) => f.path === p) || null;
      }
      return target;
    });
    errors.forEach((e, i) => {
      const t = targets[i];
      if (!t) return;
      marked.set(t, marked.has(t) ? `${marked.get(t)}; ${e.message}` : e.message);
    });
    for (const [t, message] of marked) t.show(message);
    problems.replaceChildren(
      h("p", {}, `The event was not saved: ${errors.length === 1 ? "one problem" : `${errors.length} problems`}.`),
      h("ul", {}, errors.map((e, i) => h("li", {},
        targets[i] ? h("button", { type: "button", class: "linkish", onclick: () => targets[i].focus() }, e.field) : e.field || "the event",
        `: ${e.message}`))));
    problems.hidden = false;
    const invalid = form.querySelector("[aria-invalid=true]");
    if (invalid) invalid.focus();
    else problems.focus();
  }

  async function save(e) {
    e.preventDefault();
    clearErrors();
    saved.replaceChildren();
    if (!kindSelect.value) {
      showErrors([{ field: "kind", message: "choose the kind of event" }]);
      return;
    }
    submit.disabled = true;
    try {
      const receipt = await send("/v1/events", "POST", body(), "write");
      const ids = receipt.possible_duplicates || [];
      put(saved,
        h("p", {}, `Saved at position ${receipt.position} as event `, h("code", {}, receipt.event_id), "."),
        ids.length ? [h("p", { class: "error duplicate" }, `Possible duplicate of ${ids.length === 1 ? "an earlier event" : `${ids.length} earlier events`}:`), await lookAlikes(ids, reveal)] : null);
      announce(`Event saved at position ${receipt.position}${ids.length ? `, a possible duplicate of ${ids.length}` : ""}`);
      reused.clear();
      drawFields();
      onSaved(receipt);
    } catch (error) {
      if (error instanceof ApiError && error.status === 422 && error.problem && error.problem.errors) showErrors(error.problem.errors);
      else {
        problems.replaceChildren(h("p", {}, `The event was not saved: ${error.message}`));
        problems.hidden = false;
      }
    } finally {
      submit.disabled = false;
    }
  }

  problems.tabIndex = -1;
  return form;
}
