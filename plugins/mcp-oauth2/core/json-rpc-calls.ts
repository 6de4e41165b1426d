import { findFoldedMemberName, foldMemberName } from "./member-name-folding";
import { InvalidJsonRpc, quoteText } from "./refusals";
import { findMemberValue, splitJsonContainer, trimJsonWhitespace, type TextRange } from "./json-text-ranges";
import { readResourceUri } from "./resource-uri";
import { DuplicateKeyError, isJsonObject, MAX_JSON_NESTING, NestingTooDeep, parseJsonWithUniqueKeys } from "./unique-key-json";

/** A JSON-RPC request or notification the ACL must allow. */
export interface JsonRpcCall {
  readonly method: string;
  /** params.name (tools/call, prompts/get) or params.uri (resources/*), when it is a string. */
  readonly item?: string;
  /** A resource URI as WHATWG parsers resolve it, when that differs from `item`: the ACL must allow both. */
  readonly resolvedItem?: string;
  /** Calls the message makes besides its own method, which the ACL must allow too (subscriptions/listen). */
  readonly impliedCalls?: readonly JsonRpcCall[];
}

/** A request of the body, which the upstream will answer under the same id. */
export interface LocatedRequest {
  readonly method: string;
  /** The id as the client wrote it (JSON text), and where it sits in the body's text. */
  readonly idText: string;
  readonly idRange: TextRange;
}

/** What a POST body holds for the gate: its text, its calls, whether it was a batch, and its messages. */
export interface JsonRpcBody {
  /** The body as UTF-8 text. */
  readonly text: string;
  readonly calls: readonly JsonRpcCall[];
  readonly batch: boolean;
  /** The parsed messages, in order. */
  readonly messages: readonly unknown[];
}

/** The MCP methods that name an item (MCP 2026-07-28 Mcp-Name), and the params member naming it. */
export const ITEM_MEMBER: ReadonlyMap<string, "name" | "uri"> = new Map([
  ["tools/call", "name"],
  ["prompts/get", "name"],
  ["resources/read", "uri"],
  ["resources/subscribe", "uri"],
  ["resources/unsubscribe", "uri"],
]);

/** Member names of JSON-RPC messages and of the params the ACL reads. */
const STRUCTURAL_MEMBERS: ReadonlySet<string> = new Set(["jsonrpc", "id", "method", "params", "result", "error", "name", "uri", "notifications"]);
/**
 * MCP 2026-07-28 `subscriptions/listen` subscribes to resources through
 * `params.notifications.resourceSubscriptions` (Python's SDK also binds `resource_subscriptions`,
 * Go's any case): each URI is a resources/subscribe the ACL must allow.
 */
const LISTEN_METHOD = "subscriptions/listen";
const RESOURCE_SUBSCRIPTIONS = "resourcesubscriptions";
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf];

/** Refuses members that another parser could read as a structural member or as each other. */
function checkMemberNames(object: Readonly<Record<string, unknown>>): void {
  const folded = findFoldedMemberName(object, STRUCTURAL_MEMBERS);
  if (folded !== undefined) {
    throw new InvalidJsonRpc(`the member name ${quoteText(folded)} differs from another only by case or ignorable characters`, -32600);
  }
}

function readUriItem(item: string): Pick<JsonRpcCall, "item" | "resolvedItem"> {
  const { uri, resolved } = readResourceUri(item);
  return resolved === undefined ? { item: uri } : { item: uri, resolvedItem: resolved };
}

function readItem(method: string, params: Readonly<Record<string, unknown>>): Pick<JsonRpcCall, "item" | "resolvedItem"> {
  const member = ITEM_MEMBER.get(method);
  const item = member === undefined ? undefined : params[member];
  if (typeof item !== "string") return {};
  return member === "uri" ? readUriItem(item) : { item };
}

/** The resources/subscribe calls a subscriptions/listen makes, from every spelling an upstream binds. */
function readListenSubscriptions(params: Readonly<Record<string, unknown>>): JsonRpcCall[] {
  const { notifications } = params;
  if (!isJsonObject(notifications)) return [];
  const members = Object.keys(notifications).filter((name) => foldMemberName(name).replaceAll("_", "") === RESOURCE_SUBSCRIPTIONS);
  if (members.length > 1) throw new InvalidJsonRpc("params.notifications names its resource subscriptions more than once", -32600);
  if (members.length === 0) return [];
  const uris = notifications[members[0]];
  if (!Array.isArray(uris) || !uris.every((uri): uri is string => typeof uri === "string")) {
    throw new InvalidJsonRpc("params.notifications.resourceSubscriptions must be a list of resource URIs", -32602);
  }
  return uris.map((uri) => ({ method: "resources/subscribe", ...readUriItem(uri) }));
}

function readCall(message: unknown): JsonRpcCall | undefined {
  if (!isJsonObject(message)) throw new InvalidJsonRpc("every JSON-RPC message must be an object", -32600);
  checkMemberNames(message);
  if (!("method" in message)) {
    // A response to a server-initiated request (sampling, elicitation): nothing to authorize.
    if ("result" in message || "error" in message) return undefined;
    throw new InvalidJsonRpc("a JSON-RPC message needs a method, a result or an error", -32600);
  }
  const { method, params } = message;
  if (typeof method !== "string") throw new InvalidJsonRpc("the JSON-RPC method must be a string", -32600);
  if (!isJsonObject(params)) return { method };
  checkMemberNames(params);
  if (method !== LISTEN_METHOD) return { method, ...readItem(method, params) };
  const impliedCalls = readListenSubscriptions(params);
  return impliedCalls.length === 0 ? { method } : { method, impliedCalls };
}

/** Every call the ACL must allow for these messages: each one's method, then what it implies. */
export function listAuthorizedCalls(calls: readonly JsonRpcCall[]): JsonRpcCall[] {
  return calls.flatMap((call) => (call.impliedCalls === undefined ? [call] : [call, ...call.impliedCalls]));
}

function decodeUtf8(body: Uint8Array): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new InvalidJsonRpc("the body is not valid UTF-8 JSON", -32700);
  }
}

/** JSON.parse with the gate's refusals: nesting, and member names repeated down to `maxDepth`. */
function parseJsonRpcText(text: string, maxDepth: number | ((value: unknown) => number)): unknown {
  try {
    return parseJsonWithUniqueKeys(text, maxDepth);
  } catch (error) {
    if (error instanceof DuplicateKeyError) throw new InvalidJsonRpc(`the body repeats the member name ${quoteText(error.key)}`, -32600);
    if (error instanceof NestingTooDeep) throw new InvalidJsonRpc(`the body nests deeper than ${MAX_JSON_NESTING} levels`, -32600);
    throw new InvalidJsonRpc("the body is not valid UTF-8 JSON", -32700);
  }
}

/**
 * The calls in a Streamable HTTP POST body: one JSON-RPC message or a batch (JSON-RPC 2.0 §6).
 * The bytes must be UTF-8 JSON without a byte order mark, nested at most MAX_JSON_NESTING deep,
 * without duplicate or case-folded member names in the messages and their params, where the ACL
 * looks; anything the gate cannot read exactly as the upstream will is refused (InvalidJsonRpc).
 */
export function readJsonRpcBody(body: Uint8Array): JsonRpcBody {
  // Refused rather than stripped: no MCP client sends one, and upstreams disagree on it (the
  // TypeScript SDK strips it, Go's encoding/json refuses the body).
  if (BYTE_ORDER_MARK.every((byte, index) => body[index] === byte)) throw new InvalidJsonRpc("the body must not start with a byte order mark", -32700);
  const text = decodeUtf8(body);
  // Messages sit at depth 1 (single) or 2 (batch), their params one level deeper.
  const parsed = parseJsonRpcText(text, (value) => (Array.isArray(value) ? 3 : 2));
  const batch = Array.isArray(parsed);
  const messages: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
  if (messages.length === 0) throw new InvalidJsonRpc("an empty JSON-RPC batch is invalid", -32600);
  const calls = messages.flatMap((message) => readCall(message) ?? []);
  // The subscriptions of a subscriptions/listen sit one level deeper (params.notifications), where
  // a repeated member would be read first-wins by some parsers and last-wins by JSON.parse.
  if (calls.some((call) => call.method === LISTEN_METHOD)) parseJsonRpcText(text, batch ? 4 : 3);
  return { text, calls, batch, messages };
}

/** The requests of the body (messages with an id) whose method `isWanted`, and where their ids sit in its text. */
export function locateRequests({ text, batch, messages }: JsonRpcBody, isWanted: (method: string) => boolean): LocatedRequest[] {
  const whole = trimJsonWhitespace(text, [0, text.length]);
  const messageRanges = batch ? splitJsonContainer(text, whole) : [whole];
  return messages.flatMap((message, index) => {
    if (!isJsonObject(message) || typeof message.method !== "string" || !isWanted(message.method) || !("id" in message)) return [];
    const idRange = findMemberValue(text, messageRanges[index]!, "id")!;
    return [{ method: message.method, idText: text.slice(...idRange), idRange }];
  });
}
