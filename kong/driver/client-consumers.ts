// Kong's consumers as an external plugin reaches them (kong/pdk/client.lua, 3.9.3): load_consumer
// over the consumers table, authenticate into ngx.ctx, get_consumer and get_credential from it.
// The driver runs the access phase only, where all four are allowed.
import { createLuaTable, LuaError, luaValueFromMsgpack, type LuaTable, type LuaValue } from "./lua-values";

/** A consumer entity as Kong's Admin API stores it: a UUID id, and a username and/or a custom_id. */
export interface ConsumerEntity {
  id: string;
  username?: string | null;
  custom_id?: string | null;
  created_at?: number;
  updated_at?: number;
  tags?: string[] | null;
}

/** Where kong.client.authenticate keeps its arguments: ngx.ctx, which kong.nginx.set_ctx also writes. */
const CONSUMER_KEY = "authenticated_consumer";
const CREDENTIAL_KEY = "authenticated_credential";

/** kong/tools/uuid.lua is_valid_uuid: 36 characters of 8-4-4-4-12 hex digits, any case. */
const KONG_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Lua truthiness: everything but nil and false. */
function isTruthy(value: LuaValue): boolean {
  return value !== undefined && value !== false;
}

/**
 * kong.client.load_consumer(consumer_id, search_by_username): the consumer with that id when it is
 * a UUID (the datastore compares UUIDs in any case), else with `search_by_username` the one with
 * that username; nil when none. Raises for a non-string, and for a non-UUID without the flag.
 */
export function loadConsumer(consumers: readonly ConsumerEntity[], consumerId: LuaValue, searchByUsername: LuaValue): LuaValue {
  if (typeof consumerId !== "string") throw new LuaError("consumer_id must be a string");
  const isUuid = KONG_UUID.test(consumerId);
  if (!isUuid && !isTruthy(searchByUsername)) throw new LuaError("cannot load a consumer with an id that is not a uuid");
  const byId = isUuid ? consumers.find((consumer) => consumer.id.toLowerCase() === consumerId.toLowerCase()) : undefined;
  const found = byId ?? (isTruthy(searchByUsername) ? consumers.find((consumer) => luaValueFromMsgpack(consumer.username) === consumerId) : undefined);
  return found === undefined ? undefined : luaValueFromMsgpack(found);
}

/** kong.client.authenticate(consumer, credential): each a table or nil, not both nil; replaces both. */
export function authenticate(ngxCtx: LuaTable, consumer: LuaValue, credential: LuaValue): LuaValue {
  if (consumer !== undefined && !(consumer instanceof Map)) throw new LuaError("consumer must be a table or nil");
  if (credential !== undefined && !(credential instanceof Map)) throw new LuaError("credential must be a table or nil");
  if (consumer === undefined && credential === undefined) throw new LuaError("either credential or consumer must be provided");
  for (const [key, value] of [[CONSUMER_KEY, consumer], [CREDENTIAL_KEY, credential]] as const) {
    if (value === undefined) ngxCtx.delete(key);
    else ngxCtx.set(key, value);
  }
  return undefined;
}

/** kong.client.get_consumer(): ngx.ctx.authenticated_consumer. */
export function getConsumer(ngxCtx: LuaTable): LuaValue {
  return ngxCtx.get(CONSUMER_KEY);
}

/** kong.client.get_credential(): ngx.ctx.authenticated_credential. */
export function getCredential(ngxCtx: LuaTable): LuaValue {
  return ngxCtx.get(CREDENTIAL_KEY);
}

/** One kong.log.set_serialize_value call, kept until the log phase as Kong keeps it in ngx.ctx. */
export interface SerializeValue {
  key: string;
  value: LuaValue;
  mode: "set" | "add" | "replace";
}

/** kong.log.set_serialize_value(key, value, options) (kong/pdk/log.lua): the value is checked only when serialized. */
export function setSerializeValue(serializeValues: SerializeValue[], key: LuaValue, value: LuaValue, options: LuaValue): LuaValue {
  if (typeof key !== "string") throw new LuaError("key must be a string");
  const mode = (options instanceof Map ? options.get("mode") : undefined) ?? "set";
  if (mode !== "set" && mode !== "add" && mode !== "replace") throw new LuaError("mode must be 'set', 'add' or 'replace'");
  serializeValues.push({ key, value, mode });
  return undefined;
}

/** log.lua is_valid_value: nil, number, string, boolean, or a table of such with number, string or boolean keys. */
function isSerializable(value: LuaValue): boolean {
  if (!(value instanceof Map)) return true;
  return [...value].every(([key, entry]) => (typeof key === "string" || typeof key === "number") && isSerializable(entry));
}

/**
 * What log plugins get of the values a request set (log.lua edit_result, applied to a table that
 * holds nothing else): a dotted key makes sub-tables, `add` only fills a missing entry, `replace`
 * only an existing one. Raises, as Kong does in the log phase, for a value that cannot be encoded.
 */
export function serializeValues(entries: readonly SerializeValue[]): LuaTable {
  const root = createLuaTable();
  for (const { key, value, mode } of entries) {
    if (!isSerializable(value)) {
      throw new LuaError("value must be nil, a number, string, boolean or a non-self-referencial table containing numbers, string and booleans");
    }
    // Kong splits at every "." after the first byte (a leading "." belongs to the first subkey).
    const segments = [key.charAt(0) + key.slice(1).split(".")[0], ...key.slice(1).split(".").slice(1)];
    const last = segments.pop() as string;
    let node: LuaTable | undefined = root;
    for (const segment of segments) {
      const next: LuaValue = node.get(segment);
      if (next === undefined) {
        if (mode === "replace") {
          node = undefined;
          break;
        }
        const created = createLuaTable();
        node.set(segment, created);
        node = created;
      } else if (next instanceof Map) {
        node = next;
      } else {
        throw new LuaError(`The key '${key}' could not be used as a serialize value. Subkey '${segment}' is not a table. It's ${String(next)}`);
      }
    }
    if (node === undefined) continue;
    const existing = node.get(last);
    if (mode === "set" || (mode === "add" && existing === undefined) || (mode === "replace" && existing !== undefined)) {
      if (value === undefined) node.delete(last);
      else node.set(last, value);
    }
  }
  return root;
}
