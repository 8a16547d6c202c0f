// The editor's rules: each rule's name, kinds, conditions, Bayes factor (with its
// effect in percentage points), group and reasoning; its whole JSON as an escape
// hatch; the events the draft's preview says it matches; the suggested factor
// one click away. Rules are added, removed and moved; the list redraws itself,
// keeping the focus on the same control of the same rule.

import { conditionsEditor } from "./conditions.js";
import { h, keepingFocus, put } from "./dom.js";
import { day, expit, logit, logOdds, pct, points as ppText } from "./format.js";

const KEY = Symbol("rule key");
let nextKey = 1;
const keyOf = (rule) => (rule[KEY] ??= `rule${nextKey++}`);

/** The probability after one match of factor `b` from `p`: odds × b (model.md). */
export function afterOne(p, b) {
  return expit(logit(p) + Math.log(b));
}

function fieldBox(id, label, control, hint = null) {
  return h("div", { class: "cell" }, h("label", { for: id }, label), control,
    hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null);
}

/**
 * The rules of `draft` (draft.rules is edited in place). `cat`: matchfields'
 * catalogue; `changed()`: called after every edit; `base()`: {p, what} the
 * probability a factor's effect is measured from.
 */
export function rulesEditor(draft, cat, { changed, base }) {
  const list = h("div", { class: "rules-list" });
  let answer = null; // the last preview's rules
  let suggestions = new Map(); // rule name -> suggested factor
  const parts = new Map(); // rule key -> {matches, effect, suggest}

  const move = (i, to) => {
    const [rule] = draft.rules.splice(i, 1);
    draft.rules.splice(to, 0, rule);
    changed();
    redraw();
  };

  function effectText(rule) {
    const b = Number(rule.bayes_factor);
    if (!(b > 0)) return "Enter a positive number.";
    const { p, what } = base();
    if (p === null || p === undefined || p <= 0 || p >= 1) return `ln B = ${logOdds(Math.log(b))}.`;
    const after = afterOne(p, b);
    return `One match: odds × ${b} (ln B ${logOdds(Math.log(b))}) moves ${what} ${pct(p)} to ${pct(after)}, ${ppText(after - p)}.`;
  }

  function drawParts(rule, i) {
    const part = parts.get(keyOf(rule));
    if (!part) return;
    part.effect.textContent = effectText(rule);
    const suggested = suggestions.get(rule.name);
    put(part.suggest, suggested === undefined ? null : h("button", {
      type: "button",
      class: "quiet",
      "data-use-suggested": String(suggested),
      onclick: () => {
        rule.bayes_factor = Number(suggested.toPrecision(4));
        part.bf.value = String(rule.bayes_factor);
        changed();
        drawParts(rule, i);
      },
    }, `use ${suggested.toPrecision(3)}`, h("span", { class: "sr-only" }, ` as the Bayes factor of ${rule.name} (suggested by the calibration)`)));
    const found = answer && answer[i];
    if (!found) {
      put(part.matches, h("p", { class: "hint" }, "Matches appear with the preview."));
      return;
    }
    put(part.matches,
      h("p", { class: "hint", "data-match-count": String(found.matches.length) },
        `${found.matches.length} matching event${found.matches.length === 1 ? "" : "s"}`,
        found.if_one_more === null ? "" : `; one more match now would make it ${pct(found.if_one_more)}`,
        h("span", { "data-if-one-more": String(found.if_one_more ?? "") })),
      found.matches.length ? h("ul", { class: "matches" }, found.matches.map((m) => h("li", { "data-event-id": m.event_id },
        h("time", { datetime: m.occurred_at }, day(m.occurred_at)), " ", m.summary, " ",
        h("span", { class: "lo" }, logOdds(m.log_odds))))) : null);
  }

  function ruleBox(rule, i) {
    const key = keyOf(rule);
    const id = (name) => `${key}-${name}`;
    const kinds = new Set([].concat(rule.match.kind || []));
    const set = (name, value) => {
      if (value === "" || value === null) delete rule[name];
      else rule[name] = value;
      changed();
    };
    const bf = h("input", {
      id: id("bf"), type: "number", step: "any", min: "0.000001", max: "1000000", required: true,
      value: rule.bayes_factor ?? "", "data-field": `rules[${i}].bayes_factor`, "aria-describedby": id("bf-hint"),
      oninput: (e) => {
        set("bayes_factor", e.target.value === "" ? "" : Number(e.target.value));
        drawParts(rule, i);
      },
    });
    const effect = h("span", { class: "hint effect", id: id("bf-hint"), "data-effect-of": rule.name });
    const suggest = h("span", { class: "suggest" });
    const matches = h("div", { class: "rule-matches", "aria-live": "polite" });
    parts.set(key, { matches, effect, suggest, bf });
    const json = h("textarea", { id: id("json"), rows: 6, spellcheck: "false" }, JSON.stringify(rule, null, 1));
    const jsonError = h("p", { class: "error", role: "status" });
    const kindBoxes = cat.kinds.map((k) => h("label", { class: "check" },
      h("input", {
        type: "checkbox", name: id("kind"), value: k, checked: kinds.has(k),
        onchange: (e) => {
          if (e.target.checked) kinds.add(k);
          else kinds.delete(k);
          const list = cat.kinds.filter((x) => kinds.has(x));
          rule.match.kind = list.length === 1 ? list[0] : list;
          changed();
          redraw();
        },
      }), ` ${k}`));
    const box = h("fieldset", { class: "rule", "data-key": key, "data-rule": rule.name, "data-field": `rules[${i}]` },
      h("legend", {}, `Rule ${i + 1}: ${rule.name || "(no name yet)"}`),
      h("div", { class: "row" },
        fieldBox(id("name"), "Name", h("input", {
          id: id("name"), type: "text", required: true, maxlength: 100, value: rule.name ?? "",
          "data-field": `rules[${i}].name`, oninput: (e) => set("name", e.target.value),
        })),
        fieldBox(id("group"), "Group (optional)", h("input", {
          id: id("group"), type: "text", maxlength: 100, value: rule.group ?? "", "data-field": `rules[${i}].group`,
          "aria-describedby": id("group-hint"), oninput: (e) => set("group", e.target.value),
        }), "rules of one group share one match count")),
      h("fieldset", { class: "kinds", "data-field": `rules[${i}].match.kind` },
        h("legend", {}, "Kind of event (one or several)"), kindBoxes),
      conditionsEditor(rule, i, key, cat, { changed, redraw }),
      h("div", { class: "row" },
        fieldBox(id("bf"), "Bayes factor", bf),
        h("div", { class: "cell wide" }, effect, " ", suggest)),
      fieldBox(id("reasoning"), "Reasoning (why this factor)", h("textarea", {
        id: id("reasoning"), rows: 2, maxlength: 2000, "data-field": `rules[${i}].reasoning`,
        oninput: (e) => set("reasoning", e.target.value),
      }, rule.reasoning ?? "")),
      h("details", {}, h("summary", {}, "The rule as JSON (escape hatch)"),
        h("label", { for: id("json") }, "Rule JSON: any field of a rule (uncertainty, half_life_days, repeat_discount, …)"),
        json, jsonError,
        h("button", {
          type: "button", class: "quiet", "data-apply-json": "",
          onclick: () => {
            let parsed;
            try {
              parsed = JSON.parse(json.value);
            } catch (error) {
              jsonError.textContent = `Not JSON: ${error.message}`;
              return;
            }
            if (!parsed || typeof parsed !== "object" || !parsed.match || typeof parsed.match !== "object") {
              jsonError.textContent = "A rule is an object with a match ({\"kind\": ..., \"where\": {...}}).";
              return;
            }
            parsed[KEY] = key;
            draft.rules[i] = parsed;
            changed();
            redraw(id("json"));
          },
        }, "Apply the JSON")),
      h("div", { class: "rule-actions" },
        h("button", { type: "button", class: "quiet", disabled: i === 0, onclick: () => move(i, i - 1) }, "Move up",
          h("span", { class: "sr-only" }, ` ${rule.name}`)),
        h("button", { type: "button", class: "quiet", disabled: i === draft.rules.length - 1, onclick: () => move(i, i + 1) }, "Move down",
          h("span", { class: "sr-only" }, ` ${rule.name}`)),
        h("button", {
          type: "button", class: "quiet danger", "data-remove-rule": "",
          onclick: () => {
            draft.rules.splice(i, 1);
            changed();
            redraw();
          },
        }, "Remove rule", h("span", { class: "sr-only" }, ` ${rule.name}`))),
      h("h4", {}, "Events it matches in the draft"),
      matches);
    return box;
  }

  function redraw(focusId = null) {
    const draw = () => {
      parts.clear();
      put(list, draft.rules.length ? draft.rules.map(ruleBox) : h("p", { class: "hint" }, "No rules yet: the forecast is the prior and the time term."));
      draft.rules.forEach(drawParts);
    };
    if (focusId) {
      draw();
      const target = document.getElementById(focusId);
      if (target) target.focus();
    } else {
      keepingFocus(list, draw);
    }
  }

  function refreshJson() {
    draft.rules.forEach((rule) => {
      const area = document.getElementById(`${keyOf(rule)}-json`);
      if (area && document.activeElement !== area) area.value = JSON.stringify(rule, null, 1);
    });
  }

  const add = h("button", {
    type: "button",
    "data-add-rule": "",
    onclick: () => {
      const rule = { name: `rule ${draft.rules.length + 1}`, match: { kind: cat.kinds[0] }, bayes_factor: 2 };
      draft.rules.push(rule);
      changed();
      redraw(`${keyOf(rule)}-name`);
    },
  }, "Add a rule");

  redraw();
  return {
    el: h("div", {}, list, add),
    /** The preview's per-rule answer (by position, as sent). */
    showPreview(rules) {
      answer = rules;
      draft.rules.forEach(drawParts);
      refreshJson();
    },
    useSuggestions(map) {
      suggestions = map;
      draft.rules.forEach(drawParts);
    },
    refreshJson,
    refresh() {
      draft.rules.forEach(drawParts);
    },
  };
}
