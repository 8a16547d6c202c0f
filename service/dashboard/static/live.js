// Live forecasts: polls GET /v1/forecasts with If-None-Match every few seconds
// (a 304 costs nothing) and tells subscribers when the served numbers change.
// `?poll=MS` in the page's address sets the interval (at least 500 ms).

import { request } from "./api.js";

const requested = Number(new URLSearchParams(location.search).get("poll"));
const INTERVAL_MS = requested >= 500 ? requested : 5000;

let etag = null;
let timer = null;
const listeners = new Set();
export const state = { data: null, error: null, checkedAt: null };

export function subscribe(listener) {
  listeners.add(listener);
  if (state.data) listener(state.data, null);
  return () => listeners.delete(listener);
}

function statusLine(text, offline = false) {
  const el = document.getElementById("live-status");
  el.textContent = text;
  el.classList.toggle("offline", offline);
}

async function poll() {
  clearTimeout(timer);
  try {
    const answer = await request("/v1/forecasts", { etag });
    state.checkedAt = new Date();
    state.error = null;
    const clock = state.checkedAt.toISOString().slice(11, 19);
    if (answer.status !== 304) {
      const previous = state.data;
      etag = answer.etag;
      state.data = answer.data;
      for (const listener of listeners) listener(answer.data, previous);
    }
    statusLine(`Live · checked ${clock} UTC · as of ${state.data.as_of.slice(0, 16).replace("T", " ")} UTC`);
  } catch (error) {
    state.error = error;
    statusLine(`Not updating: ${error.message}. Retrying…`, true);
  }
  timer = setTimeout(poll, INTERVAL_MS);
}

export function start() {
  poll();
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });
}

/** Poll now (after the key was entered, say). */
export function refresh() {
  return poll();
}
