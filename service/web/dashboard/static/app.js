// The dashboard's entry point: hash routing between the views, the live poller,
// the key button. Views are modules exporting a function (main, ...params)
// that renders into <main> and returns {destroy}.

import { alerts } from "./alerts.js";
import { askForKey, forgetKey, storedKey } from "./api.js";
import { backtests } from "./backtests.js";
import { editor } from "./editor.js";
import { events } from "./events.js";
import * as live from "./live.js";
import { overview } from "./overview.js";
import { scenario } from "./scenario.js";
import { access, allows, onAccessChange } from "./session.js";
import { trackRecord } from "./trackrecord.js";

const ROUTES = [
  [/^#?\/?$/, "overview", overview],
  [/^#\/scenario\/([^/]+)$/, "overview", scenario],
  [/^#\/scenario\/([^/]+)\/edit$/, "overview", editor],
  [/^#\/scenarios\/new$/, "overview", editor],
  [/^#\/events$/, "events", events],
  [/^#\/backtests(?:\/([^/]+))?$/, "backtests", backtests],
  [/^#\/track-record$/, "track-record", trackRecord],
  [/^#\/alerts$/, "alerts", alerts],
];

const main = document.getElementById("main");
let current = null;

function route() {
  const hash = location.hash || "#/";
  const found = ROUTES.find(([pattern]) => pattern.test(hash));
  const [pattern, section, view] = found || ROUTES[0];
  const params = (hash.match(pattern) || []).slice(1).map((p) => (p === undefined ? p : decodeURIComponent(p)));
  const fromPage = document.activeElement && document.activeElement.closest("nav, main");
  if (current) current.destroy();
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    if (link.dataset.view === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  current = view(main, ...params);
  const title = document.getElementById("view-title");
  document.title = `${title ? title.textContent : "Dashboard"} · Tradewinds`;
  // After navigating, keyboard and screen-reader users start at the new heading.
  if (title && fromPage) title.focus();
}

document.getElementById("forget-key").hidden = !storedKey();
document.getElementById("forget-key").addEventListener("click", () => {
  forgetKey();
  live.refresh();
});
document.getElementById("enter-key").addEventListener("click", async () => {
  if (await askForKey("This service needs an API key with the read scope to show its data.")) {
    live.refresh();
    route();
  }
});
// Alerts are admin-only: their nav entry shows only for a key that may see them.
const showAdminNav = (answer) => { document.getElementById("nav-alerts").hidden = !allows(answer, "admin"); };
access().then(showAdminNav);
onAccessChange(showAdminNav);
window.addEventListener("hashchange", route);
live.start();
route();
