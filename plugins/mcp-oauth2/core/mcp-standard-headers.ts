import type { HeaderMap } from "./access-decision";
import { ITEM_MEMBER, type JsonRpcBody } from "./json-rpc-calls";
import { InvalidJsonRpc } from "./refusals";

/** SEP-2243 HeaderMismatch: the JSON-RPC error code for standard headers that disagree with the body. */
const HEADER_MISMATCH = -32020;
/** `=?base64?<base64 of the UTF-8 name>?=`, lowercase markers only; anything else is literal. */
const BASE64_SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;
/** A leading U+FEFF is part of the name, as it is in the body: the default decoder would drop it. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function refuseMismatch(description: string): never {
  throw new InvalidJsonRpc(description, HEADER_MISMATCH);
}

function decodeNameHeader(value: string): string {
  const encoded = BASE64_SENTINEL.exec(value);
  if (encoded === null) return value;
  if (encoded[1].length % 4 !== 0) refuseMismatch("Mcp-Name is not valid Base64");
  try {
    return utf8.decode(Buffer.from(encoded[1], "base64"));
  } catch {
    return refuseMismatch("Mcp-Name does not decode to UTF-8");
  }
}

/** Whether the request carries MCP 2026-07-28 standard headers the gate must check. */
export function hasStandardHeaders(headers: HeaderMap): boolean {
  return headers.has("mcp-method") || headers.has("mcp-name");
}

/**
 * MCP 2026-07-28 (SEP-2243) mirrors the JSON-RPC method in `Mcp-Method` and the item in
 * `Mcp-Name` so intermediaries can route and meter on them; an intermediary acting on them must
 * check they agree with the body, or a request could be metered as one tool and run as another.
 * Throws InvalidJsonRpc (400, HeaderMismatch) on any disagreement, also when the request has no
 * body to agree with (a GET naming a tool would be metered as a call that never runs). The ACL
 * still judges the body.
 */
export function checkStandardHeaders(headers: HeaderMap, body: JsonRpcBody | undefined): void {
  const method = headers.get("mcp-method");
  const name = headers.get("mcp-name");
  if (method === undefined && name === undefined) return;
  if ((method?.length ?? 0) > 1 || (name?.length ?? 0) > 1) refuseMismatch("Mcp-Method and Mcp-Name must be sent once");
  if (body === undefined) refuseMismatch("Mcp-Method and Mcp-Name describe a JSON-RPC request, and this request has no body");
  if (body.batch || body.calls.length !== 1) refuseMismatch("Mcp-Method and Mcp-Name describe one JSON-RPC request, not a batch or a response");
  const call = body.calls[0];
  if (method !== undefined && method[0] !== call.method) refuseMismatch("Mcp-Method does not match the method in the body");
  const itemMember = ITEM_MEMBER.get(call.method);
  if (name !== undefined) {
    if (itemMember === undefined || decodeNameHeader(name[0]) !== call.item) refuseMismatch(`Mcp-Name does not match params.${itemMember ?? "name"} in the body`);
  } else if (call.item !== undefined) {
    refuseMismatch(`Mcp-Name is required with Mcp-Method ${call.method}`);
  }
}
