// How numbers, times and statuses are written on every view (the tests format
// the API's numbers the same way).

export function pct(p) {
  return p === null || p === undefined ? "—" : `${(p * 100).toFixed(1)}%`;
}

export function range(iv) {
  if (!iv) return "—";
  return `${(iv[0] * 100).toFixed(1)}–${(iv[1] * 100).toFixed(1)}%`;
}

/** A change in probability, in percentage points, with its sign spelled out. */
export function points(d) {
  if (d === null || d === undefined || Number.isNaN(d)) return "—";
  const v = (d * 100).toFixed(1);
  if (Number(v) === 0) return "±0.0 pp";
  return `${d > 0 ? "+" : "−"}${Math.abs(d * 100).toFixed(1)} pp`;
}

/** A log-odds number: three decimals, a real minus sign. */
export function logOdds(x) {
  if (x === null || x === undefined) return "—";
  const v = x.toFixed(3);
  return x < 0 && Number(v) !== 0 ? `−${Math.abs(x).toFixed(3)}` : `+${Math.abs(x).toFixed(3)}`;
}

export function day(iso) {
  return iso ? iso.slice(0, 10) : "—";
}

export function dayTime(iso) {
  if (!iso) return "—";
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

const DAY_MS = 86400000;

/** "in 4 months", "in 12 days", "3 months ago". */
export function relative(iso, now) {
  const ms = Date.parse(iso) - now;
  const days = Math.abs(ms) / DAY_MS;
  let text;
  if (days < 1) text = `${Math.max(1, Math.round(Math.abs(ms) / 3600000))} h`;
  else if (days < 60) text = `${Math.round(days)} days`;
  else if (days < 730) text = `${Math.round(days / 30.44)} months`;
  else text = `${(days / 365.25).toFixed(1)} years`;
  return ms >= 0 ? `${text} left` : `${text} ago`;
}

// Status: a word and a shape, never colour alone.
export const STATUS = {
  open: { label: "Open", icon: "○" },
  resolved_yes: { label: "Resolved: yes", icon: "✔" },
  resolved_no: { label: "Resolved: no", icon: "✘" },
  expired: { label: "Expired", icon: "⌛" },
  annulled: { label: "Annulled", icon: "⊘" },
};

export function logit(p) {
  return Math.log(p / (1 - p));
}

export function expit(x) {
  return 1 / (1 + Math.exp(-x));
}
