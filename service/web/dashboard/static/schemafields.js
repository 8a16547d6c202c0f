// The event kinds and their fields, read from the OpenAPI document the service
// serves (GET /schema/openapi.json): the request body of POST /v1/events is a
// union with a discriminator, one schema per kind. A new kind or field there
// needs no change here.

const EVENT_BODY = ["/v1/events", "post"];
const SKIPPED_FORMATS = new Set(["uuid"]); // ids: the service assigns them

let documentPromise = null;

/** The OpenAPI document (fetched once per page). */
export function openapi() {
  if (!documentPromise) {
    documentPromise = fetch("/schema/openapi.json", { headers: { Accept: "application/json" } })
      .then((r) => {
        if (!r.ok) throw new Error(`HTTP ${r.status} for the OpenAPI document`);
        return r.json();
      })
      .catch((error) => {
        documentPromise = null;
        throw error;
      });
  }
  return documentPromise;
}

function resolver(doc) {
  const resolve = (schema) => {
    let s = schema;
    while (s && s.$ref) {
      const path = s.$ref.replace(/^#\//, "").split("/");
      s = path.reduce((node, part) => node[part], doc);
    }
    return s;
  };
  return resolve;
}

/** A property's schema without its `null` alternative: {schema, nullable}. */
function unwrap(schema, resolve) {
  const s = resolve(schema);
  if (!s.anyOf) return { schema: s, nullable: false };
  const others = s.anyOf.filter((a) => resolve(a).type !== "null");
  if (others.length === 1) return { schema: { ...resolve(others[0]), ...pick(s, "description") }, nullable: true };
  return { schema: s, nullable: true };
}

function pick(s, ...names) {
  return Object.fromEntries(names.filter((n) => s[n] !== undefined).map((n) => [n, s[n]]));
}

/** A schema description as a sentence on the page (docstring markup dropped). */
function prose(text) {
  return text ? text.replaceAll("``", "").replace(/\s+/g, " ").trim() : null;
}

/** What control a property gets. */
function controlOf(s, resolve) {
  if (s.enum) return { control: "enum", values: s.enum };
  if (s.type === "array") {
    const item = resolve(s.items || {});
    return { control: "list", values: item.enum || null, minItems: s.minItems, maxItems: s.maxItems, itemMax: item.maxLength };
  }
  if (s.type === "number" || s.type === "integer") {
    return { control: "number", integer: s.type === "integer", min: s.minimum, max: s.maximum };
  }
  if (s.type === "boolean") return { control: "boolean" };
  if (s.type === "object" && s.properties) return { control: "group" };
  if (s.type === "object" || s.anyOf) return { control: "json" };
  if (s.format === "date-time") return { control: "datetime" };
  const url = typeof s.pattern === "string" && s.pattern.startsWith("^https?://");
  return { control: s.maxLength > 500 && !s.pattern ? "textarea" : "text", url, maxLength: s.maxLength, minLength: s.minLength };
}

/** The fields of an object schema, as specs {name, path, required, control, ...}. */
function fieldsOf(objectSchema, resolve, prefix, skip) {
  const required = new Set(objectSchema.required || []);
  return Object.entries(objectSchema.properties || {})
    .filter(([name]) => !skip.has(name))
    .map(([name, raw]) => {
      const { schema, nullable } = unwrap(raw, resolve);
      return { name, schema, nullable, path: prefix ? `${prefix}.${name}` : name, required: required.has(name) };
    })
    .filter((f) => !SKIPPED_FORMATS.has(f.schema.format))
    .map((f) => {
      const spec = {
        name: f.name, path: f.path, required: f.required,
        label: f.name.replaceAll("_", " "), description: prose(f.schema.description),
        ...controlOf(f.schema, resolve),
      };
      if (spec.control === "group") spec.fields = fieldsOf(f.schema, resolve, f.path, new Set());
      return spec;
    });
}

/** Common fields first, then the kind's own: required ones before optional ones. */
function ordered(fields, common) {
  const rank = (f) => (f.required ? 0 : 2) + (common.has(f.name) === f.required ? 0 : 1);
  return fields.map((f, i) => [rank(f), i, f]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
}

/**
 * The kinds of world event: [{kind, title, description, fields}] in the
 * document's order, each kind's fields as specs for eventform.js.
 */
export async function eventKinds() {
  const doc = await openapi();
  const resolve = resolver(doc);
  const [path, method] = EVENT_BODY;
  const body = resolve(doc.paths[path][method].requestBody.content["application/json"].schema);
  const tag = body.discriminator.propertyName;
  const byRef = new Map(Object.entries(body.discriminator.mapping).map(([kind, ref]) => [ref, kind]));
  const schemas = body.oneOf.map((ref) => ({ kind: byRef.get(ref.$ref), schema: resolve(ref) }));
  const names = schemas.map(({ schema }) => new Set(Object.keys(schema.properties)));
  const common = new Set([...names[0]].filter((n) => names.every((set) => set.has(n))));
  return schemas.map(({ kind, schema }) => ({
    kind,
    title: kind.replaceAll("_", " "),
    description: prose(schema.description),
    fields: ordered(fieldsOf(schema, resolve, "", new Set([tag])), common),
  }));
}
