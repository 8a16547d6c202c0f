// The scenario editor (#/scenario/{id}/edit, #/scenarios/new): the definition's
// fields and its rules; every change is previewed (POST .../preview, which
// stores nothing) and drawn beside the saved version; Save is the PUT that
// records a new version, then the scenario page.

import { get, request, send } from "./api.js";
import { h, put, announce } from "./dom.js";
import { drawComparison } from "./draftchart.js";
import { errorsOf, showErrors, clearErrors } from "./formerrors.js";
import { pct } from "./format.js";
import { fromLocalInput, offsetHint, toLocalInput } from "./localtime.js";
import { bounds, loadCatalogue } from "./matchfields.js";
import { rulesEditor } from "./rules.js";
import { writeGate } from "./session.js";

const DAY_MS = 86400000;
const DEBOUNCE_MS = 250;
const SLUG = /^[a-z0-9][a-z0-9-]{2,79}$/;
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The prior in words: what p0 says before any event is counted. */
export function priorSentence(p) {
  if (!(p > 0 && p < 1)) return "The prior is a probability between 0 and 1 (exclusive).";
  const odds = p / (1 - p);
  const ratio = odds >= 1 ? `${odds.toPrecision(3)} to 1` : `1 to ${(1 / odds).toPrecision(3)}`;
  return `${pct(p)} that it happens by the deadline before any event is counted (odds ${ratio}).`;
}

/** The history window of the previews: from 30 days before the opening to as_of. */
function windowOf(opensAt, asOf) {
  let start = Date.parse(opensAt || "") - 30 * DAY_MS;
  if (!(start < asOf - DAY_MS)) start = asOf - 30 * DAY_MS;
  const stepDays = Math.max(1, Math.ceil((asOf - start) / DAY_MS / 365));
  const to = start + Math.floor((asOf - start) / (stepDays * DAY_MS)) * stepDays * DAY_MS;
  return `as_of=${iso(asOf)}&from=${iso(start)}&to=${iso(to)}&step=P${stepDays}D`;
}

export function editor(main, id) {
  const isNew = id === undefined;
  const heading = h("h1", { id: "view-title", tabindex: "-1" }, isNew ? "New scenario" : `Edit ${id}`);
  const body = h("div", {}, h("p", { class: "hint" }, "Loading…"));
  put(main, h("p", { class: "back" }, h("a", { href: isNew ? "#/" : `#/scenario/${encodeURIComponent(id)}` }, isNew ? "← All scenarios" : "← Back to the scenario")),
    heading, body);
  const state = { alive: true, timer: null, controller: null, seq: 0 };

  async function start() {
    let cat;
    let sc = null;
    let suggested = null;
    try {
      cat = await loadCatalogue();
      if (!isNew) sc = await get(`/v1/scenarios/${encodeURIComponent(id)}`);
    } catch (error) {
      put(body, h("p", { class: "error", role: "alert" }, error.status === 404 ? `There is no scenario "${id}".` : `Could not load it: ${error.message}`));
      return;
    }
    if (sc) {
      heading.textContent = `Edit: ${sc.definition.title}`;
      suggested = await get(`/v1/scenarios/${encodeURIComponent(id)}/suggested-rules`).catch(() => null);
    }
    if (!state.alive) return;
    put(body, writeGate("admin", isNew ? "define a scenario" : "edit this scenario", () => editorForm(cat, sc, suggested)));
  }

  function editorForm(cat, sc, suggested) {
    const draft = sc ? structuredClone(sc.definition) : { title: "", question: "", deadline: iso(Date.now() + 365 * DAY_MS), prior: 0.2 };
    draft.rules ??= [];
    const asOf = Date.now();
    const opened = sc ? draft.opens_at || sc.first_recorded_at : null;
    const query = () => windowOf(opened || draft.opens_at, asOf);
    const schema = cat.definition;
    const summary = h("div", { class: "form-errors", role: "alert", tabindex: "-1" });
    const status = h("p", { class: "hint preview-status", role: "status", "data-preview-status": "idle" });
    const comparison = h("div", { class: "comparison", "data-comparison": "" });
    const waterfalls = h("div", { class: "comparison", "data-waterfalls": "" });
    let saved = null; // the saved version's preview answer
    let current = null; // the draft's last preview answer
    let newId = "";

    const field = (name, label, control, hint) => h("div", { class: "cell" },
      h("label", { for: `ed-${name}` }, label), control,
      hint ? h("span", { class: "hint", id: `ed-${name}-hint` }, hint) : null);
    const input = (name, attrs, onValue) => h("input", {
      id: `ed-${name}`, name, "data-field": name, "aria-describedby": attrs.hint ? `ed-${name}-hint` : null, ...attrs, hint: null,
      oninput: (e) => {
        onValue(e.target.value, e.target);
        changed();
      },
    });
    const setOrDrop = (name, value) => {
      if (value === null || value === "") delete draft[name];
      else draft[name] = value;
    };
    const number = (text) => (text === "" ? "" : Number(text));

    const priorHint = h("span", {}, priorSentence(draft.prior));
    const deadlineHint = h("span", {}, offsetHint(toLocalInput(draft.deadline)));
    const opensHint = h("span", {}, draft.opens_at ? offsetHint(toLocalInput(draft.opens_at)) : `your time; empty: ${sc ? "when the first version was recorded" : "when it is saved"}`);
    const shape = bounds(schema, "timing_shape");
    const prior = bounds(schema, "prior");
    const rules = rulesEditor(draft, cat, {
      changed,
      base: () => current && current.forecast.status === "open" && current.forecast.probability !== null
        ? { p: current.forecast.probability, what: "the draft's current" }
        : { p: draft.prior, what: "the prior" },
    });
    if (suggested && suggested.calibration && suggested.calibration.alpha !== null && suggested.calibration.alpha !== undefined) {
      rules.useSuggestions(new Map(suggested.rules.map((r) => [r.name, r.suggested_bayes_factor])));
    }

    const form = h("form", { class: "editor", novalidate: true, "data-write": "admin", onsubmit: (e) => { e.preventDefault(); save(); } },
      summary,
      h("div", { class: "editor-fields" },
        h("fieldset", {}, h("legend", {}, "The question"),
          isNew ? field("id", "Id (the scenario's address)", input("id", { type: "text", required: true, pattern: SLUG.source, hint: true, value: "" }, (v) => { newId = v.trim(); }),
            "3 to 80 characters: lowercase letters, digits and dashes") : null,
          field("title", "Title", input("title", { type: "text", required: true, maxlength: 200, value: draft.title }, (v) => { draft.title = v; })),
          field("question", "Question", h("textarea", {
            id: "ed-question", name: "question", "data-field": "question", rows: 2, maxlength: 2000, required: true,
            oninput: (e) => { draft.question = e.target.value; changed(); },
          }, draft.question)),
          field("deadline", "Deadline", input("deadline", { type: "datetime-local", required: true, value: toLocalInput(draft.deadline), hint: true }, (v) => {
            draft.deadline = fromLocalInput(v) ?? "";
            deadlineHint.textContent = offsetHint(v);
          }), deadlineHint),
          field("opens_at", "Opens at (optional)", input("opens_at", { type: "datetime-local", value: toLocalInput(draft.opens_at), hint: true }, (v) => {
            setOrDrop("opens_at", fromLocalInput(v));
            opensHint.textContent = v ? offsetHint(v) : "your time; empty: the default";
          }), opensHint)),
        h("fieldset", {}, h("legend", {}, "Prior and timing"),
          field("prior", "Prior probability (0 to 1)", input("prior", { type: "number", step: "any", min: prior.min, max: prior.max, required: true, value: draft.prior, hint: true }, (v) => {
            draft.prior = number(v);
            priorHint.textContent = priorSentence(draft.prior);
            rules.refresh();
          }), priorHint),
          field("timing", "Timing", h("select", {
            id: "ed-timing", name: "timing", "data-field": "timing", "aria-describedby": "ed-timing-hint",
            onchange: (e) => { draft.timing = e.target.value; changed(); },
          }, schema.properties.timing.enum.map((t) => h("option", { value: t, selected: (draft.timing || schema.properties.timing.default) === t }, t))),
          "uniform: every day without the outcome lowers the odds; none: silence means nothing"),
          field("timing_shape", `Timing shape a (${shape.min} to ${shape.max})`, input("timing_shape", {
            type: "number", step: "any", min: shape.min, max: shape.max, value: draft.timing_shape ?? schema.properties.timing_shape.default, hint: true,
          }, (v) => setOrDrop("timing_shape", number(v))), "1: any day alike; above 1: the outcome tends to come late; below 1: early")),
        h("fieldset", {}, h("legend", {}, "Rules"),
          h("p", { class: "hint" }, "Each match multiplies the odds by the rule's Bayes factor. Suggested factors come from the calibration, when 5 scenarios have closed."),
          rules.el)),
      h("section", { class: "preview editor-preview", "aria-labelledby": "h-preview" },
        h("h2", { id: "h-preview" }, sc ? "The draft beside the saved version" : "The draft"),
        h("p", { class: "hint" }, "Every change is previewed; nothing is stored until you save."),
        status, comparison),
      h("section", { class: "editor-waterfalls", "aria-labelledby": "h-waterfalls" },
        h("h2", { id: "h-waterfalls" }, "Why it moved: contributions"), waterfalls),
      h("div", { class: "actions" },
        h("button", { type: "submit", "data-save": "" }, sc ? `Save as version ${sc.version + 1}` : "Save the scenario"),
        h("span", { class: "hint" }, "Each rule's reasoning is kept with the version; the API has no separate note for a version.")));

    function changed() {
      clearTimeout(state.timer);
      status.textContent = "Previewing…";
      status.dataset.previewStatus = "waiting";
      state.timer = setTimeout(previewDraft, DEBOUNCE_MS);
    }

    async function previewOf(definition) {
      const pid = encodeURIComponent(isNew ? newId || "new-draft" : id);
      state.controller?.abort();
      state.controller = new AbortController();
      return (await request(`/v1/scenarios/${pid}/preview?${query()}`, { method: "POST", body: definition, signal: state.controller.signal })).data;
    }

    async function previewDraft() {
      const mine = ++state.seq;
      let answer;
      try {
        // A title and a question do not move the numbers: a new draft is previewed before they are written.
        answer = await previewOf({ ...draft, title: draft.title || "(untitled draft)", question: draft.question || "(no question yet)" });
      } catch (error) {
        if (error.name === "AbortError" || mine !== state.seq || !state.alive) return;
        status.dataset.previewStatus = "invalid";
        comparison.classList.add("stale");
        if (error.status === 422) {
          status.textContent = "The draft cannot be previewed until the fields marked are fixed; the last valid draft is shown dimmed.";
          showErrors(form, summary, errorsOf(error), "The draft is not valid yet:");
        } else {
          status.textContent = `No preview: ${error.message}`;
        }
        return;
      }
      if (mine !== state.seq || !state.alive) return; // a newer edit has been sent since
      current = answer;
      comparison.classList.remove("stale");
      clearErrors(form, summary);
      status.textContent = `Previewed: ${pct(answer.forecast.probability)}${saved ? ` (saved version ${pct(saved.forecast.probability)})` : ""}.`;
      status.dataset.previewStatus = "done";
      status.dataset.seq = String(mine);
      drawComparison(comparison, waterfalls, answer, saved);
      rules.showPreview(answer.rules);
    }

    async function save() {
      const pid = isNew ? newId : id;
      if (isNew && !SLUG.test(pid)) {
        const first = showErrors(form, summary, [{ field: "id", message: "3 to 80 characters: lowercase letters, digits and dashes, not starting with a dash" }]);
        first.focus();
        return;
      }
      clearTimeout(state.timer);
      state.controller?.abort();
      try {
        const receipt = await send(`/v1/scenarios/${encodeURIComponent(pid)}`, "PUT", draft, "admin");
        announce(`Saved: version ${receipt.version}.`);
        location.hash = `#/scenario/${encodeURIComponent(pid)}`;
      } catch (error) {
        const first = showErrors(form, summary, errorsOf(error));
        const target = first && (first.matches("input, select, textarea") ? first : first.querySelector("input, select, textarea"));
        (target || summary).focus?.();
      }
    }

    (async () => {
      if (sc) {
        try {
          saved = await previewOf(sc.definition);
        } catch {
          saved = null;
        }
      }
      if (state.alive) previewDraft();
    })();
    return form;
  }

  start();
  return {
    destroy() {
      state.alive = false;
      clearTimeout(state.timer);
      state.controller?.abort();
    },
  };
}
