// Times typed in the analyst's own time zone (datetime-local inputs), sent as
// UTC ISO 8601 with Z, with the offset said next to the input.

const two = (n) => String(n).padStart(2, "0");

/** "UTC+01:00" for the browser's offset at `date` (daylight saving included). */
export function offsetText(date = new Date()) {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "−";
  const abs = Math.abs(minutes);
  return `UTC${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`;
}

/** An ISO time as the value of a datetime-local input (local time, minutes). */
export function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** A datetime-local value (read as local time) in UTC with Z, or null if empty or invalid. */
export function fromLocalInput(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString().replace(".000Z", "Z");
}

/** The hint beside a datetime-local input: the offset at the time typed. */
export function offsetHint(value) {
  const d = value ? new Date(value) : new Date();
  const at = Number.isNaN(d.getTime()) ? new Date() : d;
  const utc = value ? fromLocalInput(value) : null;
  return `your time, ${offsetText(at)}${utc ? ` (sent as ${utc.slice(0, 16).replace("T", " ")} UTC)` : ""}`;
}
