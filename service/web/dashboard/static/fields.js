// Form controls for field specs (schemafields.js): each field is a labelled
// native control with its message slot, read back into a JSON value.
//   field(spec, prefix, onChange) -> {node, path, read(), show(message), focus(), clear()}
// read() gives undefined for an empty field (left out of the body).

import { h } from "./dom.js";

const MANY = 12; // enums with more values than this get a searchable input, not a <select>

/** "your time, UTC+05:30" for the offset this browser has at `date`. */
export function offsetText(date = new Date()) {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes < 0 ? "−" : "+";
  const abs = Math.abs(minutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `your time, UTC${sign}${hh}:${mm}`;
}

/** A datetime-local value (the analyst's time) as UTC ISO 8601 with Z. */
export function localToUtc(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString().replace(".000Z", "Z");
}

/** Now, as a datetime-local value in this browser's time. */
export function localNow() {
  const d = new Date();
  d.setSeconds(0, 0);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function labelText(spec) {
  return [spec.label, spec.required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null];
}

function datalist(id, values) {
  return h("datalist", { id }, values.map((v) => h("option", { value: v })));
}

function slot(id, spec, control, extra = []) {
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const said = spec.control === "datetime" ? null : spec.description; // the offset says it better
  const parts = [said, ...extra].filter((x) => x !== null && x !== undefined);
  const hint = parts.length ? h("p", { class: "hint", id: `${id}-hint` }, parts.flatMap((x, i) => (i && typeof x === "string" && !x.startsWith(" ") && !x.startsWith(";") ? ["; ", x] : [x]))) : null;
  const describe = [hint ? hint.id : null, error.id].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", describe);
  if (spec.required) control.setAttribute("aria-required", "true");
  return { error, hint };
}

function finish(spec, node, control, error, read, extra = {}) {
  return {
    node, path: spec.path, read,
    show(message) {
      error.textContent = message;
      error.hidden = false;
      control.setAttribute("aria-invalid", "true");
    },
    clear() {
      error.textContent = "";
      error.hidden = true;
      control.removeAttribute("aria-invalid");
    },
    focus: () => control.focus(),
    ...extra,
  };
}

function scalar(spec, id, onChange) {
  let control;
  const extra = [];
  const events = { oninput: onChange, onchange: onChange };
  if (spec.control === "enum" && spec.values.length <= MANY) {
    control = h("select", { id, name: spec.path, ...events },
      h("option", { value: "" }, spec.required ? "Choose…" : "—"),
      spec.values.map((v) => h("option", { value: v }, String(v).replaceAll("_", " "))));
  } else if (spec.control === "enum") {
    control = h("input", { id, name: spec.path, list: `${id}-values`, autocomplete: "off", spellcheck: "false", class: "code", ...events });
    extra.push(`type to search ${spec.values.length} values`, datalist(`${id}-values`, spec.values));
  } else if (spec.control === "number") {
    control = h("input", { id, name: spec.path, type: "number", inputmode: "decimal", min: spec.min, max: spec.max, step: spec.integer ? "1" : "any", ...events });
    if (spec.min !== undefined || spec.max !== undefined) extra.push(` (${spec.min ?? "…"} to ${spec.max ?? "…"})`);
  } else if (spec.control === "boolean") {
    control = h("input", { id, name: spec.path, type: "checkbox", ...events });
  } else if (spec.control === "datetime") {
    control = h("input", { id, name: spec.path, type: "datetime-local", value: localNow(), ...events });
    const offset = h("span", { class: "offset" }, offsetText());
    control.addEventListener("input", () => { offset.textContent = offsetText(control.value ? new Date(control.value) : new Date()); });
    extra.push(offset, "; stored in UTC");
  } else if (spec.control === "json") {
    control = h("textarea", { id, name: spec.path, rows: 3, spellcheck: "false", class: "code", ...events });
    extra.push("a JSON object");
  } else {
    const tag = spec.control === "textarea" ? "textarea" : "input";
    control = h(tag, {
      id, name: spec.path, maxlength: spec.maxLength, rows: tag === "textarea" ? 3 : null,
      type: tag === "input" ? (spec.url ? "url" : "text") : null, ...events,
    });
  }
  const { error, hint } = slot(id, spec, control, extra);
  const node = h("div", { class: `field field-${spec.control}`, "data-field": spec.path },
    h("label", { for: id }, labelText(spec)), control, hint, error);
  const read = () => {
    if (spec.control === "boolean") return control.checked ? true : undefined;
    const raw = control.value.trim();
    if (raw === "") return undefined;
    if (spec.control === "number") return Number.isFinite(control.valueAsNumber) ? control.valueAsNumber : raw;
    if (spec.control === "datetime") return localToUtc(raw);
    if (spec.control === "json") {
      try { return JSON.parse(raw); } catch { return raw; }
    }
    return raw;
  };
  return finish(spec, node, control, error, read);
}

/** A list: values added as chips (Enter or comma adds what is typed). */
function list(spec, id, onChange) {
  const chips = [];
  const listId = spec.values ? `${id}-values` : null;
  const control = h("input", { id, name: spec.path, list: listId, autocomplete: "off", class: spec.values ? "code" : null });
  const shown = h("ul", { class: "chips", "aria-label": `${spec.label}: added` });
  const draw = () => {
    shown.replaceChildren(...chips.map((value, i) => h("li", {},
      h("span", {}, value),
      h("button", {
        type: "button", class: "quiet chip-remove", "aria-label": `Remove ${value}`,
        onclick: () => { chips.splice(i, 1); draw(); control.focus(); onChange(); },
      }, "×"))));
  };
  const add = () => {
    const values = control.value.split(",").map((v) => v.trim()).filter(Boolean);
    for (const v of values) if (!chips.includes(v)) chips.push(v);
    control.value = "";
    draw();
    return values.length > 0;
  };
  control.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === ",") && control.value.trim()) {
      e.preventDefault();
      add();
      onChange();
    }
  });
  control.addEventListener("input", (e) => {
    // a datalist pick arrives whole (no inputType, or a replacement): add it at once
    const picked = spec.values && (!e.inputType || e.inputType === "insertReplacementText") && spec.values.includes(control.value.trim());
    if (control.value.includes(",") || picked) add();
    onChange();
  });
  const bounds = [spec.minItems ? `at least ${spec.minItems}` : null, spec.maxItems ? `at most ${spec.maxItems}` : null].filter(Boolean).join(", ");
  const extra = [`Enter or comma adds one${bounds ? ` (${bounds})` : ""}`, spec.values ? datalist(listId, spec.values) : null];
  const { error, hint } = slot(id, spec, control, extra);
  const node = h("div", { class: "field field-list", "data-field": spec.path },
    h("label", { for: id }, labelText(spec)), shown, control, hint, error);
  const read = () => {
    const pending = control.value.split(",").map((v) => v.trim()).filter(Boolean);
    const all = [...chips, ...pending.filter((v) => !chips.includes(v))];
    return all.length ? all : undefined;
  };
  return finish(spec, node, control, error, read, { values: () => [...chips] });
}

/** A group (an object with its own fields, such as a source): left out when empty. */
function group(spec, id, onChange) {
  const parts = spec.fields.map((f) => field(f, `${id}-${f.name}`, onChange));
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const node = h("fieldset", { class: "field-group", "data-field": spec.path, "aria-describedby": error.id },
    h("legend", {}, labelText(spec)), parts.map((p) => p.node), error);
  const read = () => {
    const entries = parts.map((p) => [p.path.split(".").pop(), p.read()]).filter(([, v]) => v !== undefined);
    return entries.length ? Object.fromEntries(entries) : undefined;
  };
  const own = finish(spec, node, parts[0] ? node.querySelector("input, select, textarea") : node, error, read);
  return { ...own, parts, clear: () => { own.clear(); parts.forEach((p) => p.clear()); } };
}

/** The control for `spec`, with ids starting `prefix`. */
export function field(spec, prefix, onChange) {
  if (spec.control === "group") return group(spec, prefix, onChange);
  if (spec.control === "list") return list(spec, prefix, onChange);
  return scalar(spec, prefix, onChange);
}

/** Every field with a path, groups' parts included. */
export function flatten(fields) {
  return fields.flatMap((f) => [f, ...(f.parts ? flatten(f.parts) : [])]);
}
