// What Kong does to a plugin config before an instance ever sees it (kong/db/schema/init.lua:
// process_auto_fields then validate): fill defaults, set absent optional fields to null, refuse
// unknown fields, check types and the common validators, and report every error by field path.
import type { PluginSchema } from "./plugin-dump";

/** A field definition in a plugin server's dumped schema. */
export interface SchemaField {
  type: string;
  required?: boolean;
  default?: unknown;
  description?: string;
  one_of?: readonly unknown[];
  between?: readonly [number, number];
  gt?: number;
  len_eq?: number;
  len_min?: number;
  len_max?: number;
  starts_with?: string;
  contains?: unknown;
  elements?: SchemaField;
  fields?: ReadonlyArray<Record<string, SchemaField>>;
  keys?: SchemaField;
  values?: SchemaField;
}

/** One refused value: its path from `config` (array positions 1-based, as in Kong) and Kong's message. */
export interface SchemaViolation {
  path: string;
  message: string;
}

/** Kong's "schema violation" answer to an invalid plugin config. */
export class SchemaViolationError extends Error {
  override readonly name = "SchemaViolationError";
  constructor(readonly violations: readonly SchemaViolation[]) {
    const listed = violations.map(({ path, message }) => `${path}: ${message}`).join("; ");
    super(violations.length === 1 ? `schema violation (${listed})` : `${violations.length} schema violations (${listed})`);
  }
}

type Violations = SchemaViolation[];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeList(values: readonly unknown[]): string {
  return values.map(String).join(", ");
}

/** The first failing validator's message, in Kong's validators_order (match patterns are not checked). */
function validatorMessage(field: SchemaField, value: unknown): string | undefined {
  if (field.one_of !== undefined && !field.one_of.includes(value)) return `expected one of: ${describeList(field.one_of)}`;
  if (typeof value === "number") {
    if (field.gt !== undefined && !(value > field.gt)) return `value must be greater than ${field.gt}`;
    if (field.between !== undefined && (value < field.between[0] || value > field.between[1])) {
      return `value should be between ${field.between[0]} and ${field.between[1]}`;
    }
  }
  if (typeof value === "string" || Array.isArray(value)) {
    // An empty string is never valid in Kong unless len_min says otherwise.
    const lengthMinimum = field.len_min ?? (typeof value === "string" ? 1 : undefined);
    if (field.len_eq !== undefined && value.length !== field.len_eq) return `length must be ${field.len_eq}`;
    if (lengthMinimum !== undefined && value.length < lengthMinimum) return `length must be at least ${lengthMinimum}`;
    if (field.len_max !== undefined && value.length > field.len_max) return `length must be at most ${field.len_max}`;
  }
  if (typeof value === "string" && field.starts_with !== undefined && !value.startsWith(field.starts_with)) {
    return `should start with: ${field.starts_with}`;
  }
  if (Array.isArray(value) && field.contains !== undefined && !value.includes(field.contains)) {
    return `expected to contain: ${String(field.contains)}`;
  }
  return undefined;
}

function typeMessage(field: SchemaField, value: unknown): string | undefined {
  switch (field.type) {
    case "string":
      return typeof value === "string" ? undefined : "expected a string";
    case "number":
      return typeof value === "number" ? undefined : "expected a number";
    case "integer":
      return Number.isInteger(value) ? undefined : "expected an integer";
    case "boolean":
      return typeof value === "boolean" ? undefined : "expected a boolean";
    case "array":
      return Array.isArray(value) ? undefined : "expected an array";
    case "set":
      return Array.isArray(value) ? undefined : "expected a set";
    case "map":
      return isPlainObject(value) ? undefined : "expected a map";
    case "record":
      return isPlainObject(value) ? undefined : "expected a record";
    default:
      return `invalid type: ${field.type}`;
  }
}

function processRecord(
  fields: ReadonlyArray<Record<string, SchemaField>>,
  input: Record<string, unknown>,
  path: string,
  violations: Violations,
): Record<string, unknown> {
  const definitions = new Map(fields.flatMap((entry) => Object.entries(entry)));
  for (const name of Object.keys(input)) {
    if (!definitions.has(name)) violations.push({ path: `${path}.${name}`, message: "unknown field" });
  }
  const output: Record<string, unknown> = {};
  for (const [name, definition] of definitions) {
    const value = processField(definition, input[name], `${path}.${name}`, violations);
    if (value !== undefined) output[name] = value;
  }
  return output;
}

function processElements(field: SchemaField, values: unknown[], path: string, violations: Violations): unknown[] {
  // Kong makes array and set elements required: a null element is "required field missing".
  const elementField: SchemaField = { ...(field.elements ?? { type: "string" }), required: true };
  const processed = values.map((value, index) => processField(elementField, value, `${path}.${index + 1}`, violations));
  return field.type === "set" ? [...new Set(processed)] : processed;
}

function processMap(field: SchemaField, input: Record<string, unknown>, path: string, violations: Violations): Record<string, unknown> {
  const output: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (field.keys !== undefined) processField({ ...field.keys, required: true }, key, `${path}.${key}`, violations);
    output[key] = field.values === undefined ? value : processField({ ...field.values, required: true }, value, `${path}.${key}`, violations);
  }
  return output;
}

function processField(field: SchemaField, given: unknown, path: string, violations: Violations): unknown {
  let value = given;
  if (value === undefined) {
    if (field.default !== undefined) value = structuredClone(field.default);
    else if (field.type === "record" && field.required === true) value = {};
    else if (field.required === true) {
      violations.push({ path, message: "required field missing" });
      return undefined;
    } else return null;
  }
  if (value === null) {
    if (field.required === true) violations.push({ path, message: "required field missing" });
    return null;
  }
  const wrongType = typeMessage(field, value);
  if (wrongType !== undefined) {
    violations.push({ path, message: wrongType });
    return value;
  }
  if (field.type === "record") return processRecord(field.fields ?? [], value as Record<string, unknown>, path, violations);
  if (field.type === "map") return processMap(field, value as Record<string, unknown>, path, violations);
  if (Array.isArray(value)) value = processElements(field, value, path, violations);
  const failed = validatorMessage(field, value);
  if (failed !== undefined) violations.push({ path, message: failed });
  return value;
}

/**
 * Returns the config Kong would store and hand to the plugin: defaults filled, absent optional fields
 * null, arrays kept as arrays. Throws SchemaViolationError with every violation, path by path
 * ("config.authorization_servers.1.url: required field missing"), like Kong's Admin API.
 */
export function applySchemaDefaults(schema: PluginSchema, config: unknown): Record<string, unknown> {
  const configField = schema.fields.find((entry) => "config" in entry)?.["config"];
  if (configField === undefined) throw new Error(`schema ${schema.name} has no config field`);
  const violations: Violations = [];
  const processed = processField({ ...configField, required: true }, config ?? {}, "config", violations);
  if (violations.length > 0) throw new SchemaViolationError(violations);
  return processed as Record<string, unknown>;
}
