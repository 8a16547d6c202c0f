// A 422's field messages shown where they belong: each next to the control whose
// data-field is the message's field (or the nearest enclosing one: an error at
// rules[0].match.where.x lands on that condition, else on rules[0]'s match),
// tied to it with aria-describedby, and a summary at the top (role="alert").

import { h, put } from "./dom.js";

/** The control for `field`: the longest data-field that is `field` or a prefix of it. */
function controlFor(root, field) {
  let best = null;
  for (const el of root.querySelectorAll("[data-field]")) {
    const name = el.dataset.field;
    const prefix = field === name || field.startsWith(`${name}.`) || field.startsWith(`${name}[`);
    if (prefix && (!best || name.length > best.dataset.field.length)) best = el;
  }
  return best;
}

export function clearErrors(root, summary) {
  for (const el of root.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const stale = new Set([...root.querySelectorAll(".field-error")].map((el) => el.id));
  for (const el of root.querySelectorAll("[aria-describedby]")) {
    const kept = el.getAttribute("aria-describedby").split(" ").filter((id) => id && !stale.has(id));
    if (kept.length) el.setAttribute("aria-describedby", kept.join(" "));
    else el.removeAttribute("aria-describedby");
  }
  for (const el of root.querySelectorAll(".field-error")) el.remove();
  if (summary) put(summary);
}

/** Show `errors` ({field?, message}) under `root`; returns the first invalid control. */
export function showErrors(root, summary, errors, title = "Not saved:") {
  clearErrors(root, summary);
  let first = null;
  const unplaced = [];
  for (const error of errors) {
    const control = error.field ? controlFor(root, error.field) : null;
    if (!control) {
      unplaced.push(error);
      continue;
    }
    first ??= control;
    const id = `${control.id || control.dataset.field.replace(/\W+/g, "-")}-error`;
    let box = document.getElementById(id);
    if (!box) {
      box = h("p", { class: "field-error error", id, "data-error-for": control.dataset.field });
      control.after(box);
    }
    box.append(h("span", {}, error.message, " "));
    control.setAttribute("aria-invalid", "true");
    const described = new Set((control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
    described.add(id);
    control.setAttribute("aria-describedby", [...described].join(" "));
  }
  if (summary && errors.length) {
    put(summary, h("p", {}, title),
      h("ul", {}, errors.map((e) => h("li", {}, e.field ? `${e.field}: ${e.message}` : e.message))));
  }
  return first;
}

/** The field errors of an ApiError (a 422's problem), or one error with its message. */
export function errorsOf(error) {
  const list = error && error.problem && error.problem.errors;
  return list && list.length ? list : [{ message: error.message || String(error) }];
}
