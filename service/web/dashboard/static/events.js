// Events: the latest world events first, filterable by kind (the kinds the
// OpenAPI schema names), each with what it moved (the contributions of the
// forecast details reference event ids) and the earlier events it looks like
// (`possible_duplicates` of the listing). A key with the write scope also gets
// the "Add an event" form (eventform.js) and a Retract control per event.

import { get } from "./api.js";
import { announce, h, keepingFocus, put } from "./dom.js";
import { eventForm } from "./eventform.js";
import { day, dayTime, logOdds } from "./format.js";
import { refresh, state, subscribe } from "./live.js";
import { retractControl } from "./retract.js";
import { eventKinds } from "./schemafields.js";
import { access, allows, onAccessChange, writeGate } from "./session.js";

const SORTS = {
  recorded: { label: "Newest recorded first", compare: (a, b) => b.position - a.position },
  occurred: {
    label: "Latest occurred first",
    compare: (a, b) => Date.parse(b.occurred_at) - Date.parse(a.occurred_at) || b.position - a.position,
  },
};
const PAGE = 50;
const iso = (ms) => new Date(ms).toISOString().replace(".000Z", "Z");

/** Every event after `after` to the end of the log (pages of 1000). */
async function eventsAfter(after, kind) {
  const found = [];
  let cursor = after;
  for (;;) {
    const query = new URLSearchParams({ after: String(cursor), limit: "1000" });
    if (kind) query.set("kind", kind);
    const page = await get(`/v1/events?${query}`);
    found.push(...page.events);
    if (page.next_after === null || page.events.length === 0) return found;
    cursor = page.next_after;
  }
}

/** The newest `count` events: the log is paged forward only, so start a window
 * before the newest position known and widen it until it holds enough. */
async function latest(count, kind) {
  const head = state.data ? state.data.position : 0;
  let span = 4 * count;
  for (;;) {
    const after = Math.max(0, head - span);
    const found = await eventsAfter(after, kind);
    if (found.length >= count || after === 0) return found.slice(-count).reverse();
    span *= 4;
  }
}

/** event id -> [{id, title, log_odds, rule, closed}] over every scenario's contributions
 * (a closed scenario's as they stood just before it closed). */
async function movedBy() {
  const [{ forecasts }, { scenarios }] = await Promise.all([get("/v1/forecasts"), get("/v1/scenarios")]);
  const closedAt = new Map(scenarios.map((s) => [s.id, s.resolution ? s.resolution.resolved_at : null]));
  const details = await Promise.all(forecasts.map((f) => {
    const path = `/v1/forecasts/${encodeURIComponent(f.scenario_id)}`;
    if (f.status === "open") return get(path).then((d) => ({ ...d, closed: false }));
    const at = closedAt.get(f.scenario_id) || (f.status === "expired" ? f.deadline : null);
    if (!at) return Promise.resolve({ ...f, closed: true });
    return get(`${path}?as_of=${iso(Date.parse(at) - 1000)}`).then((d) => ({ ...d, closed: true }));
  }));
  const moved = new Map();
  for (const d of details) {
    for (const c of d.contributions || []) {
      if (c.kind !== "event") continue;
      if (!moved.has(c.event_id)) moved.set(c.event_id, []);
      moved.get(c.event_id).push({ id: d.scenario_id, title: d.title, log_odds: c.log_odds, rule: c.rule, closed: d.closed });
    }
  }
  return moved;
}

export function events(main) {
  let count = PAGE;
  let kind = "";
  let sort = "recorded";
  let shownEvents = [];
  let shownMoved = new Map();
  let canWrite = false;
  const retracting = { id: null, reason: "", focus: false };
  const list = h("ol", { class: "event-list", "aria-label": "Events, newest recorded first" });
  const kindSelect = h("select", { id: "event-kind", onchange: (e) => { kind = e.target.value; count = PAGE; load(); } },
    h("option", { value: "" }, "All kinds"));
  const adding = h("section", { class: "event-entry", "aria-label": "Add an event" });
  const status = h("p", { class: "count", role: "status" }, "Loading…");
  const more = h("button", { type: "button", class: "quiet", onclick: () => { count += PAGE; load(); } }, "Show older events");
  put(main,
    h("h1", { id: "view-title", tabindex: "-1" }, "Events"),
    h("p", { class: "lede" }, "The latest world events recorded in the log, with the forecasts each one moved (in log-odds). Order them by when they were recorded or when they occurred."),
    adding,
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      h("div", { class: "field" }, h("label", { for: "event-kind" }, "Kind"), kindSelect),
      h("div", { class: "field" },
        h("label", { for: "event-sort" }, "Order"),
        h("select", { id: "event-sort", onchange: (e) => { sort = e.target.value; draw(); } },
          Object.entries(SORTS).map(([value, s]) => h("option", { value }, s.label))))),
    status, list, h("p", {}, more));

  /** Bring a listed event into view (from the form's look-alikes). */
  function reveal(id) {
    const item = list.querySelector(`li[data-event-id="${CSS.escape(id)}"] h2`);
    if (!item) {
      announce("That event is not among the events shown: show older events to find it.");
      return;
    }
    item.scrollIntoView({ block: "center" });
    item.focus();
  }

  eventKinds().then((kinds) => {
    kindSelect.append(...kinds.map((k) => h("option", { value: k.kind }, k.title)));
    adding.replaceChildren(writeGate("write", "add an event", () => eventForm(kinds, {
      reveal,
      onSaved: () => { refresh(); load(); },
    })));
  }).catch((error) => {
    adding.replaceChildren(h("p", { class: "error" }, `Could not read the event kinds: ${error.message}`));
  });

  function toggle(id) {
    const closing = retracting.id;
    retracting.id = id;
    retracting.focus = id !== null;
    if (id === null) retracting.reason = "";
    draw();
    if (id === null && closing) {
      const again = list.querySelector(`li[data-event-id="${CSS.escape(closing)}"] .retract button`);
      if (again) again.focus();
    }
  }
  const retractOptions = (ev) => ({
    open: retracting.id === ev.event_id,
    state: retracting,
    toggle,
    done: () => { retracting.id = null; refresh(); load(); },
  });

  async function checkAccess(answer) {
    canWrite = allows(answer || (await access()), "write");
    if (!canWrite) retracting.id = null;
    draw();
  }
  checkAccess();
  const stopAccess = onAccessChange(checkAccess);

  /** "Possible duplicate of …": each earlier look-alike by its summary when it is
   * shown, else by the start of its id (the full id in the tooltip). */
  function duplicateMark(ev, shown) {
    const ids = ev.possible_duplicates || [];
    if (!ids.length) return null;
    const names = ids.map((id) => {
      const other = shown.get(id);
      const text = other ? `“${other.summary}” (${day(other.occurred_at)})` : `event ${id.slice(0, 8)}`;
      return h("span", { title: id }, text);
    });
    return h("p", { class: "error duplicate", "data-duplicate-of": ids.join(" ") },
      "Possible duplicate of ", names.flatMap((n, i) => (i ? ["; ", n] : [n])));
  }

  function item(ev, moved, shown) {
    const effects = moved.get(ev.event_id) || [];
    return h("li", { "data-event-id": ev.event_id, "data-key": ev.event_id },
      h("h2", { class: ev.retracted ? "retracted" : null, tabindex: "-1" }, ev.summary),
      h("p", { class: "meta" },
        h("span", { class: "kind" }, ev.kind.replaceAll("_", " ")), " · occurred ",
        h("time", { datetime: ev.occurred_at }, day(ev.occurred_at)),
        ` · recorded ${dayTime(ev.recorded_at)} · position ${ev.position}`,
        ev.source ? ` · ${ev.source.name}` : "",
        (ev.tags || []).length ? ` · tags: ${ev.tags.join(", ")}` : ""),
      duplicateMark(ev, shown),
      canWrite ? retractControl(ev, retractOptions(ev)) : null,
      ev.retracted ? h("p", { class: "error" }, `Retracted ${dayTime(ev.retracted.recorded_at)}: ${ev.retracted.reason}`) : null,
      effects.length
        ? h("ul", { class: "moved-list", "aria-label": "What it moved" }, effects.map((m) =>
            h("li", {},
              h("a", { href: `#/scenario/${encodeURIComponent(m.id)}` }, m.title), " ",
              h("span", { class: m.log_odds >= 0 ? "up" : "down" }, `${m.log_odds >= 0 ? "▲" : "▼"} ${logOdds(m.log_odds)}`),
              ` (rule ${m.rule})`, m.closed ? " before it closed" : "")))
        : h("p", { class: "meta" }, "Moved no forecast."));
  }

  function draw() {
    const found = [...shownEvents].sort(SORTS[sort].compare);
    const shown = new Map(found.map((ev) => [ev.event_id, ev]));
    const order = SORTS[sort].label.toLowerCase();
    list.setAttribute("aria-label", `Events, ${order}`);
    keepingFocus(list, () => put(list, found.map((ev) => item(ev, shownMoved, shown))));
    if (!loaded) return;
    const which = found.length === 1 ? "event" : "events";
    status.textContent = found.length === 0 ? `No events${kind ? ` of kind ${kind.replaceAll("_", " ")}` : ""} yet.` : `The ${found.length} latest recorded ${which}${kind ? ` of kind ${kind.replaceAll("_", " ")}` : ""}, ${order}.`;
  }

  let loading = 0;
  let loaded = false;
  async function load() {
    const ticket = ++loading;
    try {
      const [found, moved] = await Promise.all([latest(count, kind), movedBy()]);
      if (ticket !== loading) return;
      shownEvents = found;
      loaded = true;
      shownMoved = moved;
      draw();
      more.hidden = found.length < count;
    } catch (error) {
      if (ticket === loading) status.textContent = `Could not load events: ${error.message}`;
    }
  }

  const unsubscribe = subscribe((data, previous) => {
    if (!previous) load();
    else if (data.position !== previous.position) load();
  });
  return { destroy: () => { unsubscribe(); stopAccess(); } };
}
