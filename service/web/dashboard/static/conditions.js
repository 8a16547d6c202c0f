// A rule's `where` conditions as rows of field, operator and value. The rows
// are kept on the rule under a symbol (JSON.stringify leaves it out), so a row
// still being filled in (no field yet) is not sent.

import { h } from "./dom.js";
import { OPERATORS, OPERATOR_WORDS, parseValue, sharedFields, splitCondition, valueText } from "./matchfields.js";

export const ROWS = Symbol("condition rows");

/** The rows of `rule` ({field, op, text}), made from its match the first time. */
export function rowsOf(rule) {
  rule[ROWS] ??= Object.entries(rule.match.where || {}).map(([field, condition]) => {
    const [op, value] = splitCondition(condition);
    return { field, op, text: valueText(value) };
  });
  return rule[ROWS];
}

/** Write the rows back into rule.match.where (rows without a field are left out). */
export function writeWhere(rule, cat) {
  const kinds = [].concat(rule.match.kind || []);
  const shapes = sharedFields(cat, kinds);
  const where = {};
  for (const row of rowsOf(rule)) {
    if (!row.field) continue;
    const value = parseValue(row.text, row.op, shapes.get(row.field));
    where[row.field] = row.op === "eq" && !Array.isArray(value) ? value : { [row.op]: value };
  }
  if (Object.keys(where).length) rule.match.where = where;
  else delete rule.match.where;
}

/** The conditions fieldset of rule number `i` (ids from `key`). */
export function conditionsEditor(rule, i, key, cat, { changed, redraw }) {
  const kinds = [].concat(rule.match.kind || []);
  const shapes = sharedFields(cat, kinds);
  const rows = rowsOf(rule);
  const update = () => {
    writeWhere(rule, cat);
    changed();
  };
  const row = (c, n) => {
    const id = `${key}-c${n}`;
    const known = shapes.has(c.field) || !c.field;
    const shape = shapes.get(c.field);
    const listId = `${id}-allowed`;
    const field = h("select", {
      id: `${id}-field`,
      onchange: (e) => {
        c.field = e.target.value;
        update();
        redraw();
      },
    },
    h("option", { value: "" }, "choose a field"),
    [...shapes.keys()].map((name) => h("option", { value: name, selected: name === c.field }, name)),
    known ? null : h("option", { value: c.field, selected: true }, `${c.field} (not a field of ${kinds.join(" and ") || "these kinds"})`));
    const op = h("select", {
      id: `${id}-op`,
      onchange: (e) => {
        c.op = e.target.value;
        update();
      },
    }, OPERATORS.map((o) => h("option", { value: o, selected: o === c.op }, OPERATOR_WORDS[o] === o ? o : `${o} (${OPERATOR_WORDS[o]})`)));
    const value = h("input", {
      id: `${id}-value`,
      type: "text",
      value: c.text,
      list: shape && shape.allowed ? listId : null,
      "aria-describedby": `${id}-hint`,
      oninput: (e) => {
        c.text = e.target.value;
        update();
      },
    });
    const hint = [
      shape ? `${shape.type}${shape.list ? " list" : ""}` : "",
      "in/nin: values separated by commas",
    ].filter(Boolean).join("; ");
    return h("div", { class: "condition", "data-field": `rules[${i}].match.where.${c.field || "?"}`, "data-condition": c.field || "" },
      h("div", { class: "cell" }, h("label", { for: `${id}-field` }, "Field"), field),
      h("div", { class: "cell" }, h("label", { for: `${id}-op` }, "Operator"), op),
      h("div", { class: "cell wide" }, h("label", { for: `${id}-value` }, "Value"), value,
        h("span", { class: "hint", id: `${id}-hint` }, hint),
        shape && shape.allowed ? h("datalist", { id: listId }, shape.allowed.map((v) => h("option", { value: v }))) : null),
      h("button", {
        type: "button",
        class: "quiet",
        "aria-label": `Remove the condition on ${c.field || "no field yet"}`,
        onclick: () => {
          rows.splice(n, 1);
          update();
          redraw();
        },
      }, "Remove"));
  };
  return h("fieldset", { class: "conditions" },
    h("legend", {}, "Where (every condition must hold)"),
    rows.length ? rows.map(row) : h("p", { class: "hint" }, "No conditions: every event of the kinds matches."),
    h("button", {
      type: "button",
      class: "quiet",
      "data-add-condition": "",
      onclick: () => {
        rows.push({ field: "", op: "eq", text: "" });
        redraw(`${key}-c${rows.length - 1}-field`);
      },
    }, "Add a condition"));
}
