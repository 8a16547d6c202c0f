// A small DOM builder: h("p", {class: "x"}, "text", child). No innerHTML anywhere,
// so text from the API is never parsed as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replace the children of `el` with `children`. */
export function put(el, ...children) {
  el.replaceChildren();
  return fill(el, {}, children);
}

/** Say something to screen readers (the polite live region in the header).
 * What is said within a moment of the last message is added to it. */
let lastSaid = 0;
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  const now = Date.now();
  region.textContent = now - lastSaid < 1500 && region.textContent ? `${region.textContent}; ${text}` : text;
  lastSaid = now;
}

const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

/** Run `render` (which replaces what is inside `container`) and put the focus
 * back on the same control: the n-th focusable one inside the element with the
 * same `data-key` (a live update must not throw a keyboard user out). */
export function keepingFocus(container, render) {
  const focused = document.activeElement;
  const holder = focused && container.contains(focused) ? focused.closest("[data-key]") : null;
  const key = holder ? holder.dataset.key : null;
  const index = holder ? [...holder.querySelectorAll(FOCUSABLE)].indexOf(focused) : -1;
  render();
  if (key === null) return;
  const again = [container, ...container.querySelectorAll("[data-key]")].find((el) => el.dataset.key === key);
  const target = again ? again.querySelectorAll(FOCUSABLE)[index] || again.querySelector(FOCUSABLE) : null;
  if (target) target.focus({ preventScroll: true });
}
