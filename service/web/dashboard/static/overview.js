// Overview: every scenario as a row: probability and 80% interval, status,
// deadline, a sparkline of the last 180 days, the change since yesterday and
// since last week. Sorted and filtered on the page; updated live. Closed
// scenarios (resolved or annulled: the shipped history alone has 37) are in a
// collapsed section under the open ones, most recently closed first; it opens
// by itself when a search or a tag finds closed ones.

import { get } from "./api.js";
import { sparkline } from "./charts.js";
import { announce, h, put } from "./dom.js";
import { day, pct, points, range, relative, STATUS } from "./format.js";
import { subscribe } from "./live.js";
import { writeGate } from "./session.js";

const DAY_MS = 86400000;
const SPARK_DAYS = 180;

const SORTS = {
  attention: { label: "Open first, deadline soonest", compare: byOpenThenDeadline },
  probability: { label: "Probability, highest first", compare: (a, b) => (b.f.probability ?? -1) - (a.f.probability ?? -1) },
  week: { label: "Largest move this week", compare: (a, b) => Math.abs(b.week ?? 0) - Math.abs(a.week ?? 0) },
  deadline: { label: "Deadline, soonest first", compare: (a, b) => Date.parse(a.f.deadline) - Date.parse(b.f.deadline) },
  title: { label: "Title, A–Z", compare: (a, b) => a.f.title.localeCompare(b.f.title) },
};

const CLOSED = new Set(["resolved_yes", "resolved_no", "annulled"]);
const isClosed = (row) => CLOSED.has(row.f.status);

/** Closed scenarios under "attention": the most recently closed first. */
function byClosedNewest(a, b) {
  const when = (r) => Date.parse(r.resolvedAt || r.f.deadline);
  return when(b) - when(a);
}

function byOpenThenDeadline(a, b) {
  const open = (r) => (r.f.status === "open" ? 0 : 1);
  return open(a) - open(b) || Date.parse(a.f.deadline) - Date.parse(b.f.deadline);
}

function iso(ms) {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

/** What stands under a probability that is no longer a forecast. */
function ended(row) {
  if (row.f.status === "expired") return "deadline passed, unresolved";
  if (row.resolvedAt) return `${row.f.status === "annulled" ? "annulled" : "resolved"} ${day(row.resolvedAt)}`;
  return "";
}

function arrow(d) {
  if (d === null || d === undefined || Math.abs(d) < 0.0005) return "";
  return d > 0 ? "▲ " : "▼ ";
}

export function overview(main) {
  const rows = new Map(); // scenario id -> {f, tags, spark, day, week, el, parts}
  const filters = { text: "", tag: "", open: false, sort: "attention" };
  let asOf = null;

  const list = h("ul", { class: "scenarios", "aria-label": "Scenarios" });
  const closedList = h("ul", { class: "scenarios closed", "aria-label": "Closed scenarios" });
  const closedSummary = h("summary", {});
  let closedOpenedByHand = false;
  let lastFilterKey = "\u0000";
  const closed = h("details", { class: "closed-scenarios" }, closedSummary, closedList);
  closedSummary.addEventListener("click", () => { closedOpenedByHand = !closed.open; });
  const count = h("p", { class: "count", role: "status" });
  const tagSelect = h("select", { id: "filter-tag" }, h("option", { value: "" }, "All tags"));
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter scenarios", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "field" },
      h("label", { for: "filter-text" }, "Search"),
      h("input", { id: "filter-text", type: "search", placeholder: "title or question", autocomplete: "off",
        oninput: (e) => { filters.text = e.target.value.trim().toLowerCase(); arrange(); } })),
    h("div", { class: "field" }, h("label", { for: "filter-tag" }, "Tag"), tagSelect),
    h("div", { class: "field" },
      h("label", { for: "sort" }, "Sort by"),
      h("select", { id: "sort", onchange: (e) => { filters.sort = e.target.value; arrange(); } },
        Object.entries(SORTS).map(([value, sort]) => h("option", { value }, sort.label)))),
    h("div", { class: "field check" },
      h("input", { id: "filter-open", type: "checkbox",
        onchange: (e) => { filters.open = e.target.checked; arrange(); } }),
      h("label", { for: "filter-open" }, "Open only")),
  );
  tagSelect.addEventListener("change", (e) => { filters.tag = e.target.value; arrange(); });

  put(main,
    h("h1", { id: "view-title", tabindex: "-1" }, "Scenarios"),
    h("p", { class: "lede" }, "Probability now, with its 80% interval; the line shows the last ",
      `${SPARK_DAYS} days with the 80% band.`),
    writeGate("admin", "define a scenario", () => h("p", { "data-write": "admin" }, h("a", { href: "#/scenarios/new", "data-new-scenario": "" }, "New scenario"))),
    form, count, list, closed);

  function makeRow(f) {
    const parts = {
      title: h("a", { href: `#/scenario/${encodeURIComponent(f.scenario_id)}` }),
      status: h("p", { class: "status" }),
      deadline: h("p", { class: "deadline" }),
      tags: h("ul", { class: "tags", "aria-label": "Tags" }),
      probability: h("p", { class: "probability", "data-probability": "" }),
      interval: h("p", { class: "interval" }),
      spark: h("div", { class: "trend" }),
      day: h("dd", { "data-change": "day" }),
      week: h("dd", { "data-change": "week" }),
    };
    const titleId = `title-${f.scenario_id}`;
    const el = h("li", { class: "scenario", "data-scenario-id": f.scenario_id },
      h("article", { "aria-labelledby": titleId },
        h("div", { class: "what" }, h("h2", { id: titleId }, parts.title), parts.status, parts.deadline, parts.tags),
        h("div", { class: "number" }, parts.probability, parts.interval),
        parts.spark,
        h("dl", { class: "changes" },
          h("div", {}, h("dt", {}, "Since yesterday"), parts.day),
          h("div", {}, h("dt", {}, "Since last week"), parts.week))));
    return { f, tags: [], spark: null, day: null, week: null, el, parts };
  }

  function paint(row, now) {
    const { f, parts } = row;
    const status = STATUS[f.status] || { label: f.status, icon: "?" };
    parts.title.textContent = f.title;
    put(parts.status, h("span", { class: "icon", "aria-hidden": "true" }, status.icon), ` ${status.label}`);
    parts.status.className = `status status-${f.status}`;
    put(parts.deadline, "Deadline ", h("time", { datetime: f.deadline }, day(f.deadline)),
      f.status === "open" ? ` · ${relative(f.deadline, now)}` : "");
    parts.probability.textContent = pct(f.probability);
    parts.probability.dataset.value = f.probability ?? "";
    parts.interval.textContent = f.interval80 ? `80% interval ${range(f.interval80)}` : ended(row);
    put(parts.tags, row.tags.map((t) => h("li", {}, t)));
    for (const which of ["day", "week"]) {
      const d = row[which];
      parts[which].textContent = `${arrow(d)}${points(d)}`;
      parts[which].className = d > 0.0005 ? "up" : d < -0.0005 ? "down" : "flat";
    }
  }

  function paintSpark(row) {
    const pts = row.spark || [];
    const first = pts.find((p) => p.probability !== null);
    const label = first
      ? `Last ${SPARK_DAYS} days: from ${pct(first.probability)} to ${pct(row.f.probability)}`
      : "No history";
    put(row.parts.spark, sparkline(pts, { label }));
  }

  function changes(row) {
    const pts = row.spark;
    const p = row.f.probability;
    const at = (n) => (pts && pts.length > n ? pts[pts.length - 1 - n].probability : null);
    const d = (q) => (p === null || q === null || q === undefined ? null : p - q);
    row.day = d(at(1));
    row.week = d(at(7));
  }

  async function loadHistory(row) {
    const to = Date.parse(asOf);
    const id = encodeURIComponent(row.f.scenario_id);
    try {
      const history = await get(`/v1/forecasts/${id}/history?from=${iso(to - SPARK_DAYS * DAY_MS)}&to=${iso(to)}&step=P1D`);
      row.spark = history.points;
    } catch {
      row.spark = [];
    }
    changes(row);
    paint(row, Date.now());
    paintSpark(row);
    if (filters.sort === "week") arrange();
  }

  async function loadTags() {
    try {
      const { scenarios } = await get("/v1/scenarios");
      const all = new Set();
      for (const sc of scenarios) {
        const row = rows.get(sc.id);
        const tags = sc.definition.tags || [];
        tags.forEach((t) => all.add(t));
        if (row) {
          row.tags = tags;
          row.question = sc.definition.question || "";
          row.resolvedAt = sc.resolution ? sc.resolution.resolved_at : null;
          paint(row, Date.now());
        }
      }
      const chosen = tagSelect.value;
      put(tagSelect, h("option", { value: "" }, "All tags"),
        [...all].sort().map((t) => h("option", { value: t, selected: t === chosen }, t)));
      arrange();
    } catch {
      /* tags are a convenience; the live status line shows API errors */
    }
  }

  function arrange() {
    const visible = [...rows.values()].filter((r) =>
      (!filters.open || r.f.status === "open") &&
      (!filters.tag || r.tags.includes(filters.tag)) &&
      (!filters.text || `${r.f.title} ${r.question || ""} ${r.f.scenario_id}`.toLowerCase().includes(filters.text)));
    visible.sort(SORTS[filters.sort].compare);
    for (const r of rows.values()) r.el.hidden = !visible.includes(r);
    const hidden = [...rows.values()].filter((r) => r.el.hidden);
    const ended = visible.filter(isClosed);
    if (filters.sort === "attention") ended.sort(byClosedNewest);
    place(list, [...visible.filter((r) => !isClosed(r)), ...hidden.filter((r) => !isClosed(r))]);
    place(closedList, [...ended, ...hidden.filter(isClosed)]);
    const closedCount = [...rows.values()].filter(isClosed).length;
    closed.hidden = ended.length === 0;
    const filterKey = `${filters.text}\u0000${filters.tag}`;
    if (filterKey !== lastFilterKey) {
      // A new search or tag shows the closed ones it finds; otherwise the section
      // stays as the reader left it.
      lastFilterKey = filterKey;
      closed.open = closedOpenedByHand || (Boolean(filters.text || filters.tag) && ended.length > 0);
    }
    closedSummary.textContent = ended.length === closedCount
      ? `Closed: ${closedCount} resolved or annulled, most recent first`
      : `Closed: ${ended.length} of ${closedCount} resolved or annulled match`;
    count.textContent = `${visible.length} of ${rows.size} scenarios` +
      (ended.length ? ` (${visible.length - ended.length} open or expired, ${ended.length} closed)` : "");
  }

  function place(ul, ordered) {
    const order = ordered.map((r) => r.el);
    if (order.length === ul.children.length && order.every((el, i) => ul.children[i] === el)) return;
    // Moving nodes drops focus: put it back where it was (a live update must not steal it).
    const focused = ul.contains(document.activeElement) ? document.activeElement : null;
    ul.append(...order);
    if (focused) focused.focus({ preventScroll: true });
  }

  function update(data, previous) {
    asOf = data.as_of;
    list.dataset.asOf = data.as_of;
    const now = Date.now();
    const before = new Map((previous?.forecasts || []).map((f) => [f.scenario_id, f]));
    const moved = [];
    const isNew = [];
    const said = [];
    for (const f of data.forecasts) {
      let row = rows.get(f.scenario_id);
      if (!row) {
        row = makeRow(f);
        rows.set(f.scenario_id, row);
        isNew.push(row);
      }
      const old = before.get(f.scenario_id);
      row.f = f;
      if (old && old.probability !== f.probability) {
        moved.push(row);
        if (pct(old.probability) !== pct(f.probability)) {
          said.push(`${f.title}: ${pct(old.probability)} → ${pct(f.probability)}`);
          row.parts.probability.classList.add("moved");
          setTimeout(() => row.parts.probability.classList.remove("moved"), 4000);
        }
      }
      changes(row);
      paint(row, now);
    }
    for (const [id, row] of rows) {
      if (!data.forecasts.some((f) => f.scenario_id === id)) {
        row.el.remove();
        rows.delete(id);
      }
    }
    if (said.length) announce(said.join("; "));
    arrange();
    if (isNew.length || !previous) loadTags();
    const stale = previous && previous.as_of !== data.as_of ? [...rows.values()] : [...isNew, ...moved];
    for (const row of new Set(stale)) loadHistory(row);
  }

  const unsubscribe = subscribe(update);
  return { destroy: unsubscribe };
}
