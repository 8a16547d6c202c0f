// What the key in this tab may do (GET /v1/access), so views draw only the
// forms that key can use: a read-only user never sees a form that can only
// fail. Where a form needs more than the key has, a view draws a button that
// asks for a key of that scope instead (writeGate).

import { KEY_CHANGED, askForKey, storedKey } from "./api.js";
import { h } from "./dom.js";

const RANK = { read: 1, write: 2, admin: 3 };
const WHAT = {
  write: "a key with the write scope (events, retractions)",
  admin: "a key with the admin scope (scenarios, resolutions, alerts)",
};

let current = null; // a promise of the /v1/access answer for the stored key
const listeners = new Set();

async function fetchAccess() {
  const headers = { Accept: "application/json" };
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  try {
    const response = await fetch("/v1/access", { headers, cache: "no-store" });
    if (response.ok) return await response.json();
  } catch {
    // the service is unreachable: treat as no access until it answers again
  }
  return { keys_required: true, presented: Boolean(key), scope: null };
}

/** The access answer for the key in this tab (fetched once per key). */
export function access() {
  if (!current) current = fetchAccess();
  return current;
}

/** True when `answer` (from access()) may do what needs `scope`. */
export function allows(answer, scope) {
  return Boolean(answer && answer.scope && RANK[answer.scope] >= RANK[scope]);
}

/** Call `fn` whenever the key changes (after the new access is known). */
export function onAccessChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

window.addEventListener(KEY_CHANGED, async () => {
  current = fetchAccess();
  const answer = await current;
  for (const fn of [...listeners]) fn(answer);
});

/** Ask for a key of `scope`; resolves true once the key in this tab has it. */
export async function requireScope(scope) {
  if (allows(await access(), scope)) return true;
  const entered = await askForKey(`This needs ${WHAT[scope]}.`);
  if (!entered) return false;
  current = fetchAccess();
  return allows(await current, scope);
}

/**
 * Where a view would draw a write form: the form itself (`draw()`, returning a
 * node) when the key allows `scope`; otherwise a button asking for such a key,
 * which draws the form in its place once one is given. `label` says what the
 * form is for ("add an event"). Returns a container node.
 */
export function writeGate(scope, label, draw) {
  const box = h("div", { class: "write-gate", dataset: { scope } });
  const render = async () => {
    const answer = await access();
    if (allows(answer, scope)) {
      box.dataset.write = scope; // the keys test finds every drawn write control by it
      box.replaceChildren(draw());
      return;
    }
    delete box.dataset.write;
    const ask = h(
      "button",
      {
        type: "button",
        class: "quiet ask-key",
        onclick: async () => {
          if (await requireScope(scope)) render();
        },
      },
      `Enter ${scope === "admin" ? "an" : "a"} ${scope} key to ${label}`,
    );
    box.replaceChildren(ask);
  };
  render();
  const stop = onAccessChange(() => {
    if (box.isConnected) render();
    else stop(); // the view that drew it is gone
  });
  return box;
}
