import { InvalidJsonRpc } from "./refusals";
import { DuplicateKeyError, isJsonObject, parseJsonWithUniqueKeys } from "./unique-key-json";

/** A JSON-RPC request or notification the ACL must allow. */
export interface JsonRpcCall {
  readonly method: string;
  /** params.name (tools/call, prompts/get) or params.uri (resources/*), when it is a string. */
  readonly item?: string;
}

/** What a POST body holds for the gate: its calls, and whether it was a batch. */
export interface JsonRpcBody {
  readonly calls: readonly JsonRpcCall[];
  readonly batch: boolean;
}

/** The MCP methods that name an item (MCP 2026-07-28 Mcp-Name), and the params member naming it. */
export const ITEM_MEMBER: ReadonlyMap<string, "name" | "uri"> = new Map([
  ["tools/call", "name"],
  ["prompts/get", "name"],
  ["resources/read", "uri"],
  ["resources/subscribe", "uri"],
  ["resources/unsubscribe", "uri"],
]);

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function readCall(message: unknown): JsonRpcCall | undefined {
  if (!isJsonObject(message)) throw new InvalidJsonRpc("every JSON-RPC message must be an object", -32600);
  if (!("method" in message)) {
    // A response to a server-initiated request (sampling, elicitation): nothing to authorize.
    if ("result" in message || "error" in message) return undefined;
    throw new InvalidJsonRpc("a JSON-RPC message needs a method, a result or an error", -32600);
  }
  const { method, params } = message;
  if (typeof method !== "string") throw new InvalidJsonRpc("the JSON-RPC method must be a string", -32600);
  const member = ITEM_MEMBER.get(method);
  const item = member !== undefined && isJsonObject(params) ? params[member] : undefined;
  return typeof item === "string" ? { method, item } : { method };
}

/**
 * The calls in a Streamable HTTP POST body: one JSON-RPC message or a batch (JSON-RPC 2.0 §6).
 * The bytes must be UTF-8 JSON without duplicate member names in the messages and their params,
 * where the ACL looks; anything the gate cannot read exactly as the upstream will is refused
 * (InvalidJsonRpc).
 */
export function readJsonRpcBody(body: Uint8Array): JsonRpcBody {
  let parsed: unknown;
  try {
    // Messages sit at depth 1 (single) or 2 (batch), their params one level deeper.
    parsed = parseJsonWithUniqueKeys(utf8.decode(body), (value) => (Array.isArray(value) ? 3 : 2));
  } catch (error) {
    if (error instanceof DuplicateKeyError) throw new InvalidJsonRpc(`the body repeats the member name ${JSON.stringify(error.key)}`, -32600);
    throw new InvalidJsonRpc("the body is not valid UTF-8 JSON", -32700);
  }
  const batch = Array.isArray(parsed);
  const messages: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
  if (messages.length === 0) throw new InvalidJsonRpc("an empty JSON-RPC batch is invalid", -32600);
  const calls: JsonRpcCall[] = [];
  for (const message of messages) {
    const call = readCall(message);
    if (call !== undefined) calls.push(call);
  }
  return { calls, batch };
}
