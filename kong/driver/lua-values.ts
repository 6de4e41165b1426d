// How values change on their way through Kong: a plugin's msgpack arguments become Lua values
// (lua-MessagePack), Lua values go back to the plugin as msgpack, and table bodies are JSON-encoded
// with lua-cjson. Lua strings are bytes; here they are byte strings (one char per byte).

/** A Lua table: keys are numbers (array part) or strings; a nil value is no entry at all. */
export type LuaTable = Map<string | number, LuaValue>;
/** A Lua value; `undefined` is nil. */
export type LuaValue = string | number | boolean | LuaTable | undefined;

/** Thrown where Kong's Lua code would raise an error (the phase then ends with Kong's 500). */
export class LuaError extends Error {
  override readonly name = "LuaError";
}

/** Encodes JS text (UTF-8) as the byte string Lua receives in a msgpack str. */
export function textToBytes(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

/** Decodes a Lua byte string to the JS text @msgpack/msgpack gives the plugin for a msgpack str. */
export function bytesToText(bytes: string): string {
  // Pure ASCII needs no work; this is the hot path (header names, paths, JSON).
  return /^[\x00-\x7f]*$/.test(bytes) ? bytes : Buffer.from(bytes, "latin1").toString("utf8");
}

/** Lua's truth: everything but nil and false. */
export function isTruthy(value: LuaValue): boolean {
  return value !== undefined && value !== false;
}

/** A Lua table built from entries, dropping nil values as Lua does. */
export function createLuaTable(entries: Iterable<[string | number, LuaValue]> = []): LuaTable {
  const table: LuaTable = new Map();
  for (const [key, value] of entries) if (value !== undefined) table.set(key, value);
  return table;
}

/** A Lua sequence {values[0], values[1], ...}. */
export function createLuaArray(values: readonly LuaValue[]): LuaTable {
  return createLuaTable(values.map((value, index) => [index + 1, value]));
}

/**
 * Converts a value decoded from a plugin's msgpack message to the Lua value Kong works with:
 * null becomes nil (and so drops out of tables), str and bin both become byte strings, arrays
 * become tables keyed 1..n.
 */
export function luaValueFromMsgpack(value: unknown): LuaValue {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") return textToBytes(value);
  if (typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("latin1");
  if (Array.isArray(value)) return createLuaArray(value.map(luaValueFromMsgpack));
  if (typeof value === "object") {
    return createLuaTable(Object.entries(value).map(([key, entry]) => [textToBytes(key), luaValueFromMsgpack(entry)]));
  }
  throw new LuaError(`cannot unpack a ${typeof value}`);
}

/** The highest key when every key is a positive integer, else undefined (0 for an empty table). */
function highestIntegerKey(table: LuaTable): number | undefined {
  let highest = 0;
  for (const key of table.keys()) {
    if (typeof key !== "number" || !Number.isInteger(key) || key < 1) return undefined;
    highest = Math.max(highest, key);
  }
  return highest;
}

/** The length of a table whose keys are exactly 1..n, else undefined (a map to lua-MessagePack). */
function sequenceLength(table: LuaTable): number | undefined {
  const highest = highestIntegerKey(table);
  return highest === table.size ? highest : undefined;
}

/**
 * Converts a Lua value to what the plugin decodes from Kong's msgpack (lua-MessagePack packing): a
 * table with keys exactly 1..n (or empty) is an array, any other table a map.
 */
export function luaValueToMsgpack(value: LuaValue): unknown {
  if (typeof value === "string") return bytesToText(value);
  if (!(value instanceof Map)) return value;
  const length = sequenceLength(value);
  if (length !== undefined) return Array.from({ length }, (_, index) => luaValueToMsgpack(value.get(index + 1)));
  return Object.fromEntries(
    [...value].map(([key, entry]) => [typeof key === "string" ? bytesToText(key) : String(key), luaValueToMsgpack(entry)]),
  );
}

const CJSON_ESCAPES: Record<string, string> = {
  '"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
};

function encodeCjsonString(bytes: string): string {
  const escaped = bytes.replace(/["\\/\x00-\x1f\x7f]/g, (character) =>
    CJSON_ESCAPES[character] ?? `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return `"${escaped}"`;
}

function encodeCjsonNumber(number: number): string {
  if (!Number.isFinite(number)) throw new LuaError("Cannot serialise number: must not be NaN or Infinity");
  // cjson prints numbers with printf's "%.14g".
  const [mantissa = "0", exponentText = "0"] = number.toExponential(13).split("e");
  const exponent = Number(exponentText);
  const trimFraction = (digits: string): string => (digits.includes(".") ? digits.replace(/\.?0+$/, "") : digits);
  if (exponent < -4 || exponent >= 14) {
    return `${trimFraction(mantissa)}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  return trimFraction(number.toFixed(13 - exponent));
}

/** cjson's array test: positive integer keys, not "excessively sparse" (more than half holes past 10). */
function cjsonArrayLength(table: LuaTable): number | undefined {
  const highest = highestIntegerKey(table);
  if (highest !== undefined && highest > 10 && highest > table.size * 2) {
    throw new LuaError("Cannot serialise table: excessively sparse array");
  }
  return highest;
}

/**
 * Encodes a Lua value as lua-cjson does for a table body of `kong.response.exit`: "/" is escaped,
 * an empty table is `{}` (so a plugin's empty array arrives as an object), holes are `null`.
 * Returns a byte string.
 */
export function encodeCjson(value: LuaValue): string {
  if (value === undefined) return "null";
  if (typeof value === "string") return encodeCjsonString(value);
  if (typeof value === "number") return encodeCjsonNumber(value);
  if (typeof value === "boolean") return String(value);
  const arrayLength = value.size === 0 ? undefined : cjsonArrayLength(value);
  if (arrayLength !== undefined) {
    return `[${Array.from({ length: arrayLength }, (_, index) => encodeCjson(value.get(index + 1))).join(",")}]`;
  }
  const members = [...value].map(([key, entry]) => `${encodeCjsonString(String(key))}:${encodeCjson(entry)}`);
  return `{${members.join(",")}}`;
}
