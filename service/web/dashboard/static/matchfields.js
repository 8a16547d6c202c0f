// What a rule's match may name, read from the OpenAPI document the service
// serves (/schema/openapi.json): the event kinds (the event batch's
// discriminator) and each kind's fields, so a new kind needs no JavaScript here.

import { get } from "./api.js";

export const OPERATORS = ["eq", "ne", "in", "nin", "lt", "le", "gt", "ge", "contains"];
export const OPERATOR_WORDS = {
  eq: "equals", ne: "is not", in: "is one of", nin: "is none of",
  lt: "<", le: "≤", gt: ">", ge: "≥", contains: "contains",
};
const LISTY = new Set(["in", "nin"]);

let catalogue = null;

function resolve(doc, schema) {
  if (schema && schema.$ref) return doc.components.schemas[schema.$ref.split("/").pop()];
  return schema;
}

/** A property's matchable shape: {type: text|number|bool|time, list, allowed}, or null. */
function shapeOf(doc, schema) {
  schema = resolve(doc, schema);
  if (!schema) return null;
  if (schema.anyOf) {
    const inner = schema.anyOf.filter((x) => x.type !== "null");
    return inner.length === 1 ? shapeOf(doc, inner[0]) : null;
  }
  if (schema.enum) return { type: "text", list: false, allowed: schema.enum.map(String) };
  if (schema.type === "array") {
    const item = shapeOf(doc, schema.items);
    return item && !item.list ? { ...item, list: true } : null;
  }
  if (schema.type === "string") return { type: schema.format === "date-time" ? "time" : "text", list: false, allowed: null };
  if (schema.type === "number" || schema.type === "integer") return { type: "number", list: false, allowed: null };
  if (schema.type === "boolean") return { type: "bool", list: false, allowed: null };
  return null;
}

function fieldsOfSchema(doc, schema) {
  const fields = new Map();
  for (const [name, property] of Object.entries(schema.properties || {})) {
    if (name === "kind" || name === "event_id") continue;
    if (name === "source") {
      fields.set("source.name", { type: "text", list: false, allowed: null });
      continue;
    }
    const shape = shapeOf(doc, property);
    if (shape) fields.set(name, shape);
  }
  return fields;
}

/** {kinds: [name...], fields: Map(kind -> Map(field -> shape)), rule: the Rule schema,
 * definition: the ScenarioDefinition schema} (fetched once per page). */
export function loadCatalogue() {
  catalogue ??= get("/schema/openapi.json").then((doc) => {
    const schemas = doc.components.schemas;
    const mapping = schemas.EventBatch.properties.events.items.discriminator.mapping;
    const fields = new Map();
    for (const [kind, ref] of Object.entries(mapping)) fields.set(kind, fieldsOfSchema(doc, resolve(doc, { $ref: ref })));
    return { kinds: [...fields.keys()].sort(), fields, rule: schemas.Rule, definition: schemas.ScenarioDefinition };
  }).catch((error) => {
    catalogue = null;
    throw error;
  });
  return catalogue;
}

/** The fields every one of `kinds` has with the same shape (a list of kinds may
 * only name those), in the first kind's order. */
export function sharedFields(cat, kinds) {
  if (!kinds.length) return new Map();
  const [first, ...rest] = kinds.map((k) => cat.fields.get(k) || new Map());
  const out = new Map();
  for (const [name, shape] of first) {
    if (rest.every((f) => f.has(name) && JSON.stringify(f.get(name)) === JSON.stringify(shape))) out.set(name, shape);
  }
  return out;
}

/** The bounds of a number property of `schema` ({minimum, maximum}), for inputs. */
export function bounds(schema, name) {
  const p = schema.properties[name] || {};
  const inner = p.anyOf ? p.anyOf.find((x) => x.type === "number") || p : p;
  return { min: inner.minimum, max: inner.maximum, description: inner.description || p.description || "" };
}

/** A condition's value typed in a text box, as JSON for `op` on a field of `shape`:
 * lists for in/nin (comma-separated), numbers and booleans as such. */
export function parseValue(text, op, shape) {
  const one = (t) => {
    const v = t.trim();
    if (shape && shape.type === "number" && v !== "" && !Number.isNaN(Number(v))) return Number(v);
    if (shape && shape.type === "bool" && (v === "true" || v === "false")) return v === "true";
    return v;
  };
  return LISTY.has(op) ? text.split(",").map(one).filter((v) => v !== "") : one(text);
}

/** The text box's text for a condition's value. */
export function valueText(value) {
  return Array.isArray(value) ? value.join(", ") : value === undefined || value === null ? "" : String(value);
}

/** A `where` condition as [op, value] (a bare scalar is `eq`). */
export function splitCondition(condition) {
  if (condition !== null && typeof condition === "object" && !Array.isArray(condition)) {
    const [[op, value]] = Object.entries(condition);
    return [op, value];
  }
  return ["eq", condition];
}
