// Live forecasts. The page first reads GET /v1/forecasts (the whole state, and
// the place where a missing key is asked for), then follows the forecast stream
// (GET /v1/forecasts/stream, Server-Sent Events, read with fetch so that the key
// goes along as a header, which EventSource cannot send) and merges each
// `forecast` event into that state. Whenever the stream is not running, it polls
// GET /v1/forecasts with If-None-Match every few seconds (a 304 costs nothing)
// and tries the stream again now and then. Subscribers hear of every change.
//
// `?live=poll` in the page's address forces polling; `?poll=MS` sets its interval.

import { request, storedKey } from "./api.js";

const params = new URLSearchParams(location.search);
const POLL_MS = Number(params.get("poll")) >= 500 ? Number(params.get("poll")) : 5000;
const USE_STREAM = params.get("live") !== "poll" && "ReadableStream" in window;
const RETRY_STREAM_MS = 15000;
const SETTLE_MS = 250; // after stream events, read the full state once (titles, versions, logits)

let etag = null;
let timer = null;
let streaming = null; // AbortController of the running stream
let lastEventId = null;
let settleTimer = null;
let nextStreamTry = 0;
const listeners = new Set();
export const state = { data: null, mode: USE_STREAM ? "stream" : "poll", checkedAt: null };

export function subscribe(listener) {
  listeners.add(listener);
  if (state.data) listener(state.data, null);
  return () => listeners.delete(listener);
}

function publish(data) {
  const previous = state.data;
  state.data = data;
  for (const listener of listeners) listener(data, previous);
}

function statusLine(text, offline = false) {
  const el = document.getElementById("live-status");
  el.textContent = text;
  el.classList.toggle("offline", offline);
  document.body.dataset.live = offline ? "offline" : streaming ? "stream" : "poll";
}

function showLive() {
  if (!state.data) return;
  const how = streaming ? "Live (stream)" : `Live (every ${Math.round(POLL_MS / 1000)} s)`;
  const asOf = state.data.as_of.slice(0, 16).replace("T", " ");
  statusLine(`${how} · as of ${asOf} UTC`);
}

async function poll() {
  clearTimeout(timer);
  try {
    const answer = await request("/v1/forecasts", { etag });
    state.checkedAt = new Date();
    if (answer.status !== 304) {
      etag = answer.etag;
      publish(answer.data);
    }
    showLive();
    if (USE_STREAM && !streaming && Date.now() >= nextStreamTry) follow();
  } catch (error) {
    statusLine(`Not updating: ${error.message}. Retrying…`, true);
  }
  if (!streaming) timer = setTimeout(poll, POLL_MS);
}

/** Merge the stream's `forecast` events (those read together) into the state. */
function merge(changes) {
  const data = state.data;
  if (changes.some((c) => !data.forecasts.some((f) => f.scenario_id === c.scenario_id))) {
    poll(); // a new scenario: its title and deadline come from GET /v1/forecasts
    return;
  }
  const latest = new Map(changes.map((c) => [c.scenario_id, c]));
  publish({
    ...data,
    as_of: changes.reduce((t, c) => (c.as_of > t ? c.as_of : t), data.as_of),
    position: Math.max(data.position, ...changes.map((c) => c.position)),
    forecasts: data.forecasts.map((f) => {
      const c = latest.get(f.scenario_id);
      return c ? { ...f, probability: c.probability, interval80: c.interval80, interval95: c.interval95, status: c.status } : f;
    }),
  });
  clearTimeout(settleTimer);
  settleTimer = setTimeout(() => request("/v1/forecasts", { etag }).then((answer) => {
    if (answer.status !== 304) {
      etag = answer.etag;
      publish(answer.data);
    }
  }).catch(() => {}), SETTLE_MS);
}

/** One event block of the stream: a `forecast` event's data, or null. */
function parse(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") lastEventId = value;
  }
  return event === "forecast" && data.length ? JSON.parse(data.join("\n")) : null;
}

/** Follow the stream until it ends; then fall back to polling. */
async function follow() {
  const controller = new AbortController();
  streaming = controller;
  clearTimeout(timer);
  const headers = { Accept: "text/event-stream" };
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (lastEventId) headers["Last-Event-ID"] = lastEventId;
  try {
    const after = lastEventId ? "" : `?after=${state.data.position}`;
    const response = await fetch(`/v1/forecasts/stream${after}`, { headers, signal: controller.signal, cache: "no-store" });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    showLive();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      const changes = [];
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const change = parse(buffer.slice(0, end));
        if (change) changes.push(change);
        buffer = buffer.slice(end + 2);
      }
      if (changes.length) merge(changes);
    }
    nextStreamTry = Date.now() + 1000; // the server ended it (its time limit): resume soon
  } catch {
    nextStreamTry = Date.now() + RETRY_STREAM_MS; // no stream here, or it broke: poll a while
  }
  if (streaming === controller) streaming = null;
  showLive();
  timer = setTimeout(poll, 0);
}

export function start() {
  poll();
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !streaming) poll();
  });
}

/** Start over (after the key changed). */
export function refresh() {
  if (streaming) streaming.abort();
  etag = null;
  return poll();
}
