// Calls to this service's API. With API keys configured, a 401 or 403 opens the
// key dialog and the request is tried again with the key given; the key lives
// only in sessionStorage (this tab), never in localStorage or a cookie.

const KEY = "tradewinds.apiKey";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY);
}

/** Fired on window whenever the key in this tab changes (session.js listens). */
export const KEY_CHANGED = "tradewinds:key";

export function forgetKey() {
  sessionStorage.removeItem(KEY);
  document.getElementById("forget-key").hidden = true;
  window.dispatchEvent(new CustomEvent(KEY_CHANGED));
}

function keepKey(key) {
  sessionStorage.setItem(KEY, key);
  document.getElementById("forget-key").hidden = false;
  window.dispatchEvent(new CustomEvent(KEY_CHANGED));
}

let asking = null;
let declined = false; // the dialog was cancelled: do not open it again by itself

/** Open the key dialog; resolves true once a key was entered, false on cancel.
 * Requests that fail together share one dialog. */
export function askForKey(message) {
  if (asking) return asking;
  const dialog = document.getElementById("key-dialog");
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  document.getElementById("key-message").textContent = message;
  document.getElementById("key-error").textContent = "";
  input.value = "";
  asking = new Promise((resolve) => {
    const done = (ok) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      asking = null;
      resolve(ok);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) {
        document.getElementById("key-error").textContent = "Enter a key.";
        return;
      }
      keepKey(key);
      declined = false;
      document.getElementById("enter-key").hidden = true;
      done(true);
    };
    const onCancel = (e) => {
      e.preventDefault();
      declined = true;
      document.getElementById("enter-key").hidden = false;
      done(false);
    };
    const cancel = document.getElementById("key-cancel");
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
  });
  dialog.showModal();
  input.focus();
  return asking;
}

const SCOPE_MESSAGES = {
  read: "This service needs an API key with the read scope to show its data.",
  write: "This action needs an API key with the write scope.",
  admin: "This action needs an API key with the admin scope.",
};

async function once(path, { method = "GET", body, etag, accept, signal } = {}) {
  const headers = { Accept: accept || "application/json" };
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (etag) headers["If-None-Match"] = etag;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    cache: "no-store", // we send If-None-Match ourselves and want to see the 304
    signal,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 304) return { status: 304, etag, data: null };
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    throw new ApiError(response.status, problem);
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : await response.blob();
  return { status: response.status, etag: response.headers.get("ETag"), data };
}

/** One request; on 401/403 asks for a key (scope: what the call needs) and retries. */
export async function request(path, options = {}, scope = "read") {
  for (;;) {
    try {
      return await once(path, options);
    } catch (error) {
      if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) throw error;
      const detail = error.status === 403 ? ` The key given was refused: ${error.message}.` : "";
      if (declined && scope === "read") throw error; // until the user asks for the dialog
      if (!(await askForKey(SCOPE_MESSAGES[scope] + detail))) throw error;
    }
  }
}

export async function get(path) {
  return (await request(path)).data;
}

/** A write: `method` with a JSON `body`, needing `scope` ("write" or "admin").
 * Resolves to the answer's data; a 422 rejects with the ApiError, whose
 * `problem.errors` name the fields. */
export async function send(path, method, body, scope = "write") {
  return (await request(path, { method, body }, scope)).data;
}
