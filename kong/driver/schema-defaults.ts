// What Kong does to a plugin config before an instance ever sees it (kong/db/schema/init.lua:
// process_auto_fields then validate): fill defaults, set absent optional fields to null, refuse
// unknown fields, check types and the validators, and report the errors nested as Kong does.
import { matchLuaPattern } from "./lua-pattern";
import { textToBytes } from "./lua-values";
import type { PluginSchema } from "./plugin-dump";
import { SchemaViolationError, type FieldErrors } from "./schema-violation";

/** One `{pattern, err}` entry of match_all / match_none. */
export interface PatternRule {
  pattern: string;
  err?: string;
}

/** A field definition in a plugin server's dumped schema. */
export interface SchemaField {
  type: string;
  required?: boolean;
  default?: unknown;
  description?: string;
  /** Replaces the message of whichever validator fails. */
  err?: string;
  one_of?: readonly unknown[];
  between?: readonly [number, number];
  gt?: number;
  len_eq?: number;
  len_min?: number;
  len_max?: number;
  starts_with?: string;
  /** Lua patterns (string.match), not regular expressions. */
  match?: string;
  not_match?: string;
  match_all?: readonly PatternRule[];
  match_none?: readonly PatternRule[];
  match_any?: { patterns: readonly string[]; err?: string };
  contains?: unknown;
  elements?: SchemaField;
  fields?: ReadonlyArray<Record<string, SchemaField>>;
  keys?: SchemaField;
  values?: SchemaField;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `value:match(pattern)` on the Lua string Kong holds: the UTF-8 bytes of the JSON string. */
function matchesPattern(value: string, pattern: string): boolean {
  return matchLuaPattern(textToBytes(value), textToBytes(pattern)) !== null;
}

/** Kong's default message when a validator fails without its own (validation_errors). */
function invalidValue(value: string): string {
  return `invalid value: ${value}`;
}

/** The string validators, in Kong's validators_order: the first that fails gives the message. */
function stringValidatorMessage(field: SchemaField, value: string): string | undefined {
  if (field.starts_with !== undefined && !value.startsWith(field.starts_with)) return `should start with: ${field.starts_with}`;
  if (field.not_match !== undefined && matchesPattern(value, field.not_match)) return invalidValue(value);
  const forbidden = field.match_none?.find((rule) => matchesPattern(value, rule.pattern));
  if (forbidden !== undefined) return forbidden.err ?? invalidValue(value);
  if (field.match !== undefined && !matchesPattern(value, field.match)) return invalidValue(value);
  const unmet = field.match_all?.find((rule) => !matchesPattern(value, rule.pattern));
  if (unmet !== undefined) return unmet.err ?? invalidValue(value);
  if (field.match_any !== undefined && !field.match_any.patterns.some((pattern) => matchesPattern(value, pattern))) {
    return field.match_any.err ?? invalidValue(value);
  }
  return undefined;
}

/** The first failing validator's message, in Kong's validators_order. */
function validatorMessage(field: SchemaField, value: unknown): string | undefined {
  if (field.one_of !== undefined && !field.one_of.includes(value)) return `expected one of: ${field.one_of.map(String).join(", ")}`;
  if (typeof value === "number") {
    if (field.gt !== undefined && !(value > field.gt)) return `value must be greater than ${field.gt}`;
    if (field.between !== undefined && (value < field.between[0] || value > field.between[1])) {
      return `value should be between ${field.between[0]} and ${field.between[1]}`;
    }
  }
  if (typeof value === "string" || Array.isArray(value)) {
    // An empty string is never valid in Kong unless len_min says otherwise.
    const lengthMinimum = field.len_min ?? (typeof value === "string" ? 1 : undefined);
    // Kong measures a string's length in bytes (#value).
    const length = typeof value === "string" ? Buffer.byteLength(value, "utf8") : value.length;
    if (field.len_eq !== undefined && length !== field.len_eq) return `length must be ${field.len_eq}`;
    if (lengthMinimum !== undefined && length < lengthMinimum) return `length must be at least ${lengthMinimum}`;
    if (field.len_max !== undefined && length > field.len_max) return `length must be at most ${field.len_max}`;
  }
  if (typeof value === "string") {
    const message = stringValidatorMessage(field, value);
    if (message !== undefined) return message;
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

/** A processed value (defaults filled) and Kong's errors for it, if any. */
export interface Processed {
  value: unknown;
  errors?: FieldErrors;
}

function processRecord(fields: ReadonlyArray<Record<string, SchemaField>>, input: Record<string, unknown>): Processed {
  const definitions = new Map(fields.flatMap((entry) => Object.entries(entry)));
  const errors: Record<string, FieldErrors> = {};
  for (const name of Object.keys(input)) if (!definitions.has(name)) errors[name] = "unknown field";
  const value: Record<string, unknown> = {};
  for (const [name, definition] of definitions) {
    const processed = processField(definition, input[name]);
    if (processed.value !== undefined) value[name] = processed.value;
    if (processed.errors !== undefined) errors[name] = processed.errors;
  }
  return Object.keys(errors).length === 0 ? { value } : { value, errors };
}

/** Array and set elements: Kong makes them required and reports each failing position. */
function processElements(field: SchemaField, values: readonly unknown[]): Processed {
  const elementField: SchemaField = { ...(field.elements ?? { type: "string" }), required: true };
  const processed = values.map((element) => processField(elementField, element));
  const value = processed.map((element) => element.value);
  if (processed.every((element) => element.errors === undefined)) return { value: field.type === "set" ? [...new Set(value)] : value };
  return { value, errors: processed.map((element) => element.errors ?? null) };
}

function processMap(field: SchemaField, input: Record<string, unknown>): Processed {
  const value: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(input)) {
    // Kong stops at a map's first invalid key or value.
    const checkedKey: Processed = field.keys === undefined ? { value: key } : processField({ ...field.keys, required: true }, key);
    if (checkedKey.errors !== undefined) return { value: input, errors: checkedKey.errors };
    const checked = field.values === undefined ? { value: entry } : processField({ ...field.values, required: true }, entry);
    if (checked.errors !== undefined) return { value: input, errors: checked.errors };
    value[key] = checked.value;
  }
  return { value };
}

/** One field's value as Kong stores it (defaults filled) and Kong's errors for it, if any. */
export function processField(field: SchemaField, given: unknown): Processed {
  let value = given;
  if (value === undefined) {
    if (field.default !== undefined) value = structuredClone(field.default);
    else if (field.type === "record" && field.required === true) value = {};
    else if (field.required === true) return { value: undefined, errors: "required field missing" };
    else return { value: null };
  }
  if (value === null) return field.required === true ? { value, errors: "required field missing" } : { value };
  const wrongType = typeMessage(field, value);
  if (wrongType !== undefined) return { value, errors: wrongType };
  if (field.type === "record") return processRecord(field.fields ?? [], value as Record<string, unknown>);
  if (field.type === "map") return processMap(field, value as Record<string, unknown>);
  if (Array.isArray(value)) {
    const elements = processElements(field, value);
    // Kong checks an array's own validators (len_min…) only once every element passed.
    if (elements.errors !== undefined) return elements;
    value = elements.value;
  }
  const failed = validatorMessage(field, value);
  return failed === undefined ? { value } : { value, errors: field.err ?? failed };
}

/**
 * Returns the config Kong would store and hand to the plugin: defaults filled, absent optional
 * fields null, arrays kept as arrays. Throws SchemaViolationError as Kong's Admin API answers it,
 * the errors under `config`.
 */
export function applySchemaDefaults(schema: PluginSchema, config: unknown): Record<string, unknown> {
  const configField = schema.fields.find((entry) => "config" in entry)?.["config"];
  if (configField === undefined) throw new Error(`schema ${schema.name} has no config field`);
  const processed = processField({ ...configField, required: true }, config ?? {});
  if (processed.errors !== undefined) throw new SchemaViolationError({ config: processed.errors });
  return processed.value as Record<string, unknown>;
}
