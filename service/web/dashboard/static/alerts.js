// Alerts (admin): every alert with what it watches and when it fires, its
// webhook (the secret is never shown, only that one is kept), a form to create
// or change one, delete with a confirming step, and each alert's deliveries
// with their status, refreshed while they are open. A key without the admin
// scope sees only why, and a button to give such a key.

import { get, send } from "./api.js";
import { alertForm, conditionText } from "./alertform.js";
import { announce, h, keepingFocus, put } from "./dom.js";
import { dayTime } from "./format.js";
import { subscribe } from "./live.js";
import { access, allows, onAccessChange, writeGate } from "./session.js";

const params = new URLSearchParams(location.search);
const REFRESH_MS = Number(params.get("poll")) >= 500 ? Number(params.get("poll")) : 5000;

function deliveryTable(list) {
  if (!list.length) return h("p", { class: "hint" }, "None yet: nothing this alert watches has fired it.");
  const head = ["Fired", "Scenario", "Status", "Attempts", "Response", "Error", "Next attempt"];
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Deliveries, scrollable" },
    h("table", { class: "stack deliveries" },
      h("caption", {}, "Newest first"),
      h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, list.map((d) => h("tr", { "data-delivery": d.id, "data-status": d.status },
        h("td", { "data-label": head[0] }, h("time", { datetime: d.fired_at }, dayTime(d.fired_at))),
        h("td", { "data-label": head[1] }, h("a", { href: `#/scenario/${encodeURIComponent(d.scenario_id)}` }, d.scenario_id)),
        h("td", { "data-label": head[2] }, h("span", { class: `delivery-status ${d.status}` }, d.status)),
        h("td", { "data-label": head[3], class: "num" }, String(d.attempts)),
        h("td", { "data-label": head[4], class: "num" }, d.last_status === null ? "—" : String(d.last_status)),
        h("td", { "data-label": head[5] }, d.last_error || "—"),
        h("td", { "data-label": head[6] }, d.next_attempt_at ? dayTime(d.next_attempt_at) : "—"))))));
}

/** One alert's deliveries in a <details>: loaded when opened, then every REFRESH_MS while open. */
function deliveries(alertId) {
  const body = h("div", { class: "delivery-body", "aria-live": "polite" }, h("p", { class: "hint" }, "Loading…"));
  const details = h("details", { class: "alert-deliveries", "data-key": `deliveries-${alertId}` },
    h("summary", {}, "Deliveries"), body);
  let timer = null;
  async function load() {
    clearTimeout(timer);
    if (!details.open || !details.isConnected) return;
    try {
      const { deliveries: list } = await get(`/v1/alerts/${encodeURIComponent(alertId)}/deliveries`);
      keepingFocus(body, () => put(body, deliveryTable(list)));
    } catch (err) {
      put(body, h("p", { class: "error" }, `Could not load deliveries: ${err.message}`));
    }
    if (details.open && details.isConnected) timer = setTimeout(load, REFRESH_MS);
  }
  details.addEventListener("toggle", load);
  return { node: details, stop: () => clearTimeout(timer) };
}

/** Everything an admin key sees: the list, the form, the deliveries. */
function panel() {
  const items = new Map(); // alert id -> {li, version, deliveries}
  const formSlot = h("div", { class: "alert-form-slot" });
  const status = h("p", { class: "count", role: "status" }, "Loading…");
  const list = h("ul", { class: "alert-list", "aria-label": "Alerts" });
  const create = h("button", { type: "button", id: "alert-new", "data-write": "admin", onclick: () => openForm(null, create) }, "New alert");
  let scenarios = null;
  let alive = true;

  async function openForm(alert, from) {
    try {
      ({ scenarios } = await get("/v1/scenarios")); // fresh: one defined a moment ago is offered
    } catch (err) {
      put(formSlot, h("p", { class: "error", role: "alert" }, `Could not load the scenarios to choose from: ${err.message}`));
      return;
    }
    const close = (focusTo) => { put(formSlot); if (focusTo && focusTo.isConnected) focusTo.focus(); };
    const form = alertForm({
      alert, scenarios,
      onSaved: async (saved) => {
        announce(`Alert ${saved.id} saved (version ${saved.version}).`);
        close();
        await load();
        const item = items.get(saved.id);
        if (item) item.li.querySelector("h2").focus();
      },
      onCancel: () => close(from),
    });
    put(formSlot, form);
    form.querySelector(alert ? "input[name=alert-scope]:checked" : "#alert-id").focus();
  }

  function actions(alert) {
    const box = h("div", { class: "actions", "data-write": "admin" });
    const normal = () => put(box,
      h("button", { type: "button", "data-action": "edit", onclick: (e) => openForm(alert, e.currentTarget) }, "Edit"),
      h("button", { type: "button", class: "quiet", "data-action": "delete", onclick: confirm }, "Delete"));
    function confirm() {
      const yes = h("button", { type: "button", class: "danger", "data-action": "confirm-delete", onclick: remove }, `Delete ${alert.id}`);
      put(box,
        h("p", { class: "confirm", role: "alert" },
          `Delete alert ${alert.id}? Its pending deliveries are given up; the deletion is recorded in the log.`),
        yes,
        h("button", { type: "button", class: "quiet", "data-action": "keep",
          onclick: () => { normal(); box.querySelector("[data-action=delete]").focus(); } }, "Keep it"));
      yes.focus();
    }
    async function remove() {
      try {
        await send(`/v1/alerts/${encodeURIComponent(alert.id)}`, "DELETE", undefined, "admin");
        announce(`Alert ${alert.id} deleted.`);
        await load();
        create.focus();
      } catch (err) {
        normal();
        box.append(h("p", { class: "error", role: "alert" }, `Not deleted: ${err.message}`));
      }
    }
    normal();
    return box;
  }

  function facts(alert, watchedTitles) {
    const watches = alert.scenario_ids === null
      ? "every scenario"
      : alert.scenario_ids.map((id, i) => [i ? ", " : "", h("a", { href: `#/scenario/${encodeURIComponent(id)}` }, watchedTitles.get(id) || id)]);
    return h("dl", { class: "facts" },
      h("dt", {}, "Watches"), h("dd", { "data-watches": "" }, watches),
      h("dt", {}, "Fires when"), h("dd", { "data-condition": "" }, conditionText(alert.condition)),
      h("dt", {}, "Webhook"), h("dd", {}, h("code", { "data-url": "" }, alert.url)),
      h("dt", {}, "Secret"), h("dd", { "data-secret": "" }, "kept by the service, never shown"),
      h("dt", {}, "Version"), h("dd", {}, `${alert.version}, defined ${dayTime(alert.recorded_at)}`));
  }

  async function load() {
    let alerts;
    try {
      ({ alerts } = await get("/v1/alerts"));
      const named = new Set((scenarios || []).map((s) => s.id));
      if (!scenarios || alerts.some((a) => (a.scenario_ids || []).some((id) => !named.has(id)))) {
        ({ scenarios } = await get("/v1/scenarios")); // for the titles of the scenarios watched
      }
    } catch (err) {
      status.textContent = `Could not load alerts: ${err.message}`;
      return;
    }
    if (!alive) return;
    const titles = new Map(scenarios.map((s) => [s.id, s.definition.title]));
    const seen = new Set();
    for (const alert of alerts) {
      seen.add(alert.id);
      let item = items.get(alert.id);
      if (!item) {
        item = { li: h("li", { class: "card", "data-alert-id": alert.id, "data-key": alert.id }), deliveries: deliveries(alert.id) };
        items.set(alert.id, item);
      }
      if (item.version === alert.version && item.li.isConnected) continue;
      item.version = alert.version;
      keepingFocus(item.li, () => put(item.li,
        h("h2", { tabindex: "-1" }, alert.id), facts(alert, titles), actions(alert), item.deliveries.node));
    }
    for (const [id, item] of items) {
      if (seen.has(id)) continue;
      item.deliveries.stop();
      item.li.remove();
      items.delete(id);
    }
    put(list, alerts.map((a) => items.get(a.id).li));
    status.textContent = alerts.length ? `${alerts.length} ${alerts.length === 1 ? "alert" : "alerts"}.` : "No alerts yet.";
  }

  const unsubscribe = subscribe((data, previous) => {
    if (!previous || data.position !== previous.position) load();
  });
  const node = h("div", { class: "alerts-panel" }, h("p", {}, create), formSlot, status, list);
  return {
    node,
    destroy() {
      alive = false;
      unsubscribe();
      for (const item of items.values()) item.deliveries.stop();
    },
  };
}

export function alerts(main) {
  let current = null;
  const needs = h("p", { class: "warn", id: "alerts-need-admin", hidden: true },
    "Alerts need an API key with the admin scope: they name webhook URLs, which often carry tokens, and their deliveries show what was sent.");
  const gate = writeGate("admin", "see and edit alerts", () => {
    if (current) current.destroy();
    current = panel();
    return current.node;
  });
  put(main,
    h("h1", { id: "view-title", tabindex: "-1" }, "Alerts"),
    h("p", { class: "lede" }, "Webhooks the service POSTs, signed, when a forecast crosses a threshold or moves by some points; each alert's deliveries with their status."),
    needs, gate);
  const show = (answer) => {
    needs.hidden = allows(answer, "admin");
    if (!needs.hidden && current) {
      current.destroy(); // the key lost the scope: stop asking for alerts
      current = null;
    }
  };
  access().then(show);
  const stop = onAccessChange(show);
  return {
    destroy() {
      stop();
      if (current) current.destroy();
    },
  };
}
