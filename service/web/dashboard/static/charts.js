// Inline SVG charts: a sparkline, the history chart with its bands and event
// marks, and the bars of the "why it moved" waterfall. Each chart is an image
// with a text alternative; the numbers it draws are also in a table next to it.

import { s } from "./dom.js";
import { day, expit, logit, pct, points as ppText } from "./format.js";

// model.md: interval_q = expit(ln odds +/- z_q * sd), z = 1.2816 (80%), 1.9600 (95%).
// History points carry the 80% interval only; the 95% one follows from it.
const Z80 = 1.2815515655446004;
const Z95 = 1.959963984540054;

export function interval95(iv80) {
  if (!iv80 || iv80[0] <= 0 || iv80[1] >= 1) return iv80;
  const lo = logit(iv80[0]);
  const hi = logit(iv80[1]);
  const centre = (lo + hi) / 2;
  const half = ((hi - lo) / 2) * (Z95 / Z80);
  return [expit(centre - half), expit(centre + half)];
}

function linePath(points, x, y) {
  return points
    .map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.probability).toFixed(1)}`)
    .join("");
}

function bandPath(points, x, y, lo, hi) {
  const upper = points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(hi(p)).toFixed(1)}`);
  const lower = points
    .slice()
    .reverse()
    .map((p) => `L${x(p.t).toFixed(1)},${y(lo(p)).toFixed(1)}`);
  return `${upper.join("")}${lower.join("")}Z`;
}

const withBand = (points) => points.filter((p) => p.probability !== null && p.interval80);
const withValue = (points) => points.filter((p) => p.probability !== null);

/** A small line of the last months with the 80% band. */
export function sparkline(points, { width = 160, height = 40, label = "" } = {}) {
  const values = withValue(points);
  const svg = s("svg", {
    class: "spark",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": label,
  });
  if (values.length < 2) return svg;
  const t0 = Date.parse(values[0].t);
  const t1 = Date.parse(values[values.length - 1].t);
  const x = (t) => ((Date.parse(t) - t0) / Math.max(1, t1 - t0)) * (width - 4) + 2;
  const y = (p) => (1 - p) * (height - 4) + 2;
  const band = withBand(values);
  if (band.length > 1) {
    svg.append(
      s("path", {
        class: "band80",
        d: bandPath(band, x, y, (p) => p.interval80[0], (p) => p.interval80[1]),
      }),
    );
  }
  svg.append(s("path", { class: "line", d: linePath(values, x, y) }));
  const last = values[values.length - 1];
  svg.append(s("circle", { class: "dot", cx: x(last.t), cy: y(last.probability), r: 2.5 }));
  return svg;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The history chart: 95% and 80% bands, the line, and a mark under the time
 * axis for each event (▲ raised the odds, ▼ lowered them), numbered to match
 * the table of events. `compare` (points on the same times: the saved version
 * beside a draft) is drawn as a dashed line. */
export function historyChart(points, marks, { label = "", width = 760, compare = null } = {}) {
  const height = 300;
  const m = { left: 44, right: 12, top: 12, bottom: 70 };
  const svg = s("svg", {
    class: "history",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": label,
    preserveAspectRatio: "xMidYMid meet",
  });
  const values = withValue(points);
  if (values.length < 2) return svg;
  const t0 = Date.parse(values[0].t);
  const t1 = Date.parse(values[values.length - 1].t);
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const xt = (ms) => m.left + ((ms - t0) / Math.max(1, t1 - t0)) * plotW;
  const x = (t) => xt(Date.parse(t));
  const y = (p) => m.top + (1 - p) * plotH;

  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(s("line", { class: "grid", x1: m.left, x2: width - m.right, y1: y(p), y2: y(p) }));
    svg.append(s("text", { class: "tick", x: m.left - 6, y: y(p) + 4, "text-anchor": "end" }, `${p * 100}%`));
  }
  // Month ticks, thinned to at most ~8 labels.
  const start = new Date(t0);
  const months = [];
  for (let d = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1)); d.getTime() <= t1; d.setUTCMonth(d.getUTCMonth() + 1)) {
    months.push(new Date(d));
  }
  const every = Math.max(1, Math.ceil(months.length / Math.max(3, Math.floor(width / 90))));
  months.forEach((d, i) => {
    if (i % every) return;
    const xx = xt(d.getTime());
    svg.append(s("line", { class: "grid", x1: xx, x2: xx, y1: m.top, y2: m.top + plotH }));
    const text = d.getUTCMonth() === 0 || i === 0 ? `${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}` : MONTHS[d.getUTCMonth()];
    svg.append(s("text", { class: "tick", x: xx, y: m.top + plotH + 16, "text-anchor": "middle" }, text));
  });

  const band = withBand(values);
  if (band.length > 1) {
    svg.append(
      s("path", {
        class: "band95",
        d: bandPath(band, x, y, (p) => interval95(p.interval80)[0], (p) => interval95(p.interval80)[1]),
      }),
      s("path", { class: "band80", d: bandPath(band, x, y, (p) => p.interval80[0], (p) => p.interval80[1]) }),
    );
  }
  const compared = compare ? withValue(compare) : [];
  if (compared.length > 1) svg.append(s("path", { class: "line compare", "data-compare": "", d: linePath(compared, x, y) }));
  svg.append(s("path", { class: "line", d: linePath(values, x, y) }));

  const axisY = m.top + plotH + 20;
  const lastX = []; // per label row, where its last number ended: close marks stack
  svg.append(s("line", { class: "axis", x1: m.left, x2: width - m.right, y1: m.top + plotH, y2: m.top + plotH }));
  for (const mark of marks) {
    const ms = Date.parse(mark.occurred_at);
    if (ms < t0 || ms > t1) continue;
    const xx = xt(ms);
    const up = mark.log_odds >= 0;
    const shape = up
      ? `M${xx},${axisY} l-5,9 h10 Z`
      : `M${xx},${axisY + 9} l-5,-9 h10 Z`;
    svg.append(
      s("line", { class: "event-rule", x1: xx, x2: xx, y1: m.top, y2: m.top + plotH }),
      s(
        "path",
        { class: up ? "mark up" : "mark down", d: shape },
        s("title", {}, `${mark.number}. ${day(mark.occurred_at)} ${mark.summary} (${up ? "raised" : "lowered"}${mark.pp_then === undefined ? "" : ` it by ${ppText(mark.pp_then / 100)} when it happened`})`),
      ),
      s("text", { class: "mark-number", x: xx, y: axisY + 21 + 11 * labelRow(lastX, xx), "text-anchor": "middle" }, String(mark.number)),
    );
  }
  const last = values[values.length - 1];
  svg.append(s("circle", { class: "dot", cx: x(last.t), cy: y(last.probability), r: 3.5 }));
  const labelY = y(last.probability) < m.top + 20 ? y(last.probability) + 18 : y(last.probability) - 8;
  svg.append(s("text", { class: "tick strong", x: x(last.t) - 6, y: labelY, "text-anchor": "end" }, pct(last.probability)));
  return svg;
}

function labelRow(lastX, x) {
  for (let row = 0; row < 3; row += 1) {
    if (lastX[row] === undefined || x - lastX[row] >= 14) {
      lastX[row] = x;
      return row;
    }
  }
  return 2;
}

/** One waterfall bar: the probability from `before` to `after` on a shared scale
 * ({min, max}, probabilities). With `then` (an event's), an outline from `before`
 * to `then` below it: the size of its jump when it happened, beside its size now. */
export function waterfallBar(before, after, scale, { kind = "step", then = null } = {}) {
  const width = 220;
  const height = then === null ? 18 : 24;
  const clip = (v) => Math.min(scale.max, Math.max(scale.min, v));
  const x = (v) => 4 + ((clip(v) - scale.min) / (scale.max - scale.min || 1)) * (width - 8);
  const svg = s("svg", { class: "wbar", viewBox: `0 0 ${width} ${height}`, width, height, "aria-hidden": "true" });
  svg.append(s("line", { class: "zero", x1: x(scale.min), x2: x(scale.min), y1: 0, y2: height }));
  const lo = Math.min(before, after);
  const hi = Math.max(before, after);
  const cls = kind !== "step" ? kind : after >= before ? "up" : "down";
  svg.append(s("rect", { class: cls, x: x(lo), y: 3, width: Math.max(1.5, x(hi) - x(lo)), height: 12 }));
  if (then !== null) {
    const a = Math.min(before, then);
    const b = Math.max(before, then);
    svg.append(s("rect", {
      class: `then ${then >= before ? "up" : "down"}`, x: x(a), y: 17, width: Math.max(1.5, x(b) - x(a)), height: 5,
    }));
  }
  return svg;
}
