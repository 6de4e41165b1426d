// A seeded generator of JSON-RPC requests for the differential suite: bodies and headers built
// from the catalogue's calls and the hostile spellings of the corpus (member names that fold
// together, UTF-7 runs, dot segments, batches, notifications, responses, encodings, protocol
// versions), mostly well-formed so that the upstreams really dispatch them.
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import type { HeaderList } from "../../kong/driver";
import { ACCEPT, hideCallInUtf7, HOSTILE_URIS, PUBLIC_FILE, SECRET_FILE, type RequestCase } from "./request-corpus";

/**
 * Mostly `usual` (five times in six), sometimes one of `unusual`: each hostile variant alone, so
 * that most requests are ones the gate lets through and the upstreams really dispatch.
 */
function mostly<T>(usual: T, ...unusual: T[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: fc.constant(usual), weight: 5 }, { arbitrary: fc.constantFrom(...unusual), weight: 1 });
}

/** `usual` eleven times in twelve: for the variants the gate refuses outright (415), which say nothing of what runs upstream. */
function rarely<T>(usual: T, ...unusual: T[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: fc.constant(usual), weight: 11 }, { arbitrary: fc.constantFrom(...unusual), weight: 1 });
}

const METHODS = [
  "tools/call", "tools/call", "tools/call", "resources/read", "resources/read", "prompts/get", "resources/subscribe", "resources/unsubscribe",
  "tools/list", "resources/list", "resources/templates/list", "prompts/list", "ping", "initialize", "notifications/initialized",
  "notifications/cancelled", "logging/setLevel", "completion/complete", "server/discover", "Tools/Call", "tools/call ", "tools//call",
];
const NAMES = ["weather_now", "admin_wipe", "public_summary", "secret_digest", "weather_", "weather_now\u0000", "Admin_wipe", "weather_admin_wipe", "admin_wipe "];
const URIS = [PUBLIC_FILE, SECRET_FILE, "file:///srv/public/notes.md", "file:///srv/secret/plans.md", ...HOSTILE_URIS];
const MEMBER_SPELLINGS: Readonly<Record<string, readonly string[]>> = {
  method: ["Method", "METHOD", "method\u0000", "mEthod"],
  params: ["Params", "param\u017f", "PARAMS", "params\u0000"],
  name: ["Name", "NAME", "name\u0000", "na\u200bme"],
  uri: ["URI", "Uri", "uri\u0000"],
};

/** How a member is written: as is, under a folded spelling, or as is plus a folded twin carrying another value. */
type Spelling = "exact" | "folded" | "exact-then-twin" | "twin-then-exact" | "escaped";

const spellingArbitrary = mostly<Spelling>("exact", "folded", "exact-then-twin", "twin-then-exact", "escaped");

/** The members `name: value` as JSON text, spelled per `spelling` (`twin` is the other value and which fold). */
function writeMember(name: string, value: string, spelling: Spelling, twin: { value: string; fold: number }): string {
  const folds = MEMBER_SPELLINGS[name] ?? [name];
  const folded = JSON.stringify(folds[twin.fold % folds.length]);
  const exact = `${JSON.stringify(name)}:${value}`;
  switch (spelling) {
    case "exact":
      return exact;
    case "folded":
      return `${folded}:${value}`;
    case "exact-then-twin":
      return `${exact},${folded}:${twin.value}`;
    case "twin-then-exact":
      return `${folded}:${twin.value},${exact}`;
    case "escaped":
      return `"\\u${name.charCodeAt(0).toString(16).padStart(4, "0")}${name.slice(1)}":${value}`;
  }
}

const messageArbitrary = fc
  .record({
    method: fc.constantFrom(...METHODS),
    twinMethod: fc.constantFrom(...METHODS),
    name: fc.constantFrom(...NAMES),
    twinName: fc.constantFrom(...NAMES),
    uri: fc.constantFrom(...URIS),
    twinUri: fc.constantFrom(...URIS),
    itemMember: fc.constantFrom("name", "uri", "both", "none"),
    id: mostly<number | string | null | undefined>(1, undefined, "a", null),
    kind: mostly<"request" | "with-result" | "with-error">("request", "with-result", "with-error"),
    methodSpelling: spellingArbitrary,
    paramsSpelling: spellingArbitrary,
    itemSpelling: spellingArbitrary,
    fold: fc.nat(7),
    escapedSlash: mostly(false, true),
  })
  .map((model) => {
    const twin = (value: string) => ({ value: JSON.stringify(value), fold: model.fold });
    const itemMembers: string[] = [];
    if (model.itemMember === "name" || model.itemMember === "both") itemMembers.push(writeMember("name", JSON.stringify(model.name), model.itemSpelling, twin(model.twinName)));
    if (model.itemMember === "uri" || model.itemMember === "both") itemMembers.push(writeMember("uri", JSON.stringify(model.uri), model.itemSpelling, twin(model.twinUri)));
    const params = `{${[...itemMembers, '"arguments":{}'].join(",")}}`;
    const methodValue = model.escapedSlash ? JSON.stringify(model.method).replaceAll("/", "\\/") : JSON.stringify(model.method);
    const members = ['"jsonrpc":"2.0"'];
    if (model.id !== undefined) members.push(`"id":${JSON.stringify(model.id)}`);
    if (model.kind === "with-result") members.push('"result":{}');
    if (model.kind === "with-error") members.push('"error":{"code":1,"message":"x"}');
    members.push(writeMember("method", methodValue, model.methodSpelling, twin(model.twinMethod)));
    members.push(writeMember("params", params, model.paramsSpelling, { value: `{"name":"admin_wipe","uri":"${SECRET_FILE}","arguments":{}}`, fold: model.fold }));
    return `{${members.join(",")}}`;
  });

const OTHER_CONTENT_TYPES = [
  "application/json; charset=utf-8", "application/json; charset=UTF-8", 'application/json; charset="utf-8"', "application/json; charset=utf-7",
  "application/json; charset=latin1", "Application/JSON", "application/vnd.mcp+json", "text/plain", undefined,
];
const PROTOCOL_VERSIONS = [undefined, undefined, undefined, "2025-06-18", "2025-11-25", "2025-03-26", "2026-07-28", "1999-01-01"];
const SCOPE_SETS = [[], ["mcp:basic"], ["mcp:weather"], ["mcp:public"], ["mcp:basic", "mcp:weather"], ["mcp:basic", "mcp:public"], ["mcp:admin"], ["mcp:unmapped"]];

/** A fuzzed request for the catalogue ACL and the token it is sent with (undefined: none). */
export interface FuzzedRequest {
  readonly scopes: readonly string[] | undefined;
  readonly request: RequestCase;
}

export const fuzzedRequestArbitrary: fc.Arbitrary<FuzzedRequest> = fc
  .record({
    scopes: fc.oneof({ arbitrary: fc.constant(undefined), weight: 1 }, { arbitrary: fc.constantFrom(...SCOPE_SETS), weight: 12 }),
    messages: fc.array(messageArbitrary, { minLength: 1, maxLength: 3 }),
    batch: mostly(false, true),
    contentType: rarely<string | undefined>("application/json", ...OTHER_CONTENT_TYPES),
    utf7Hidden: rarely<"none" | "utf-7" | "utf-7-imap">("none", "utf-7", "utf-7-imap"),
    contentEncoding: rarely<string | undefined>(undefined, "gzip", "identity", "br"),
    compress: fc.boolean(),
    protocolVersion: fc.constantFrom(...PROTOCOL_VERSIONS),
    mcpHeaders: mostly<"none" | "matching" | "other">("none", "matching", "other"),
    httpMethod: rarely("POST", "GET", "DELETE", "PUT"),
  })
  .map((model): FuzzedRequest => {
    const [first, ...rest] = model.messages as [string, ...string[]];
    // Decoded as UTF-7, the first message is the second one (or admin_wipe).
    const hidden = (rest[0] ?? '{"method":"tools/call","params":{"name":"admin_wipe","arguments":{}}}').slice(1, -1);
    const utf7 = model.utf7Hidden === "none" ? undefined : model.utf7Hidden;
    const firstMessage = utf7 === undefined ? first : hideCallInUtf7(first.slice(1, -1), hidden, utf7);
    const text = model.batch ? `[${[firstMessage, ...rest].join(",")}]` : firstMessage;
    const plain = Buffer.from(text);
    const body = model.contentEncoding === "gzip" && model.compress ? gzipSync(plain) : plain;
    const headers: HeaderList = [ACCEPT];
    // A UTF-7 run is sent as what it is, as an attacker would.
    const contentType = utf7 === undefined ? model.contentType : `application/json; charset=${utf7}`;
    if (contentType !== undefined) headers.push(["Content-Type", contentType]);
    if (model.contentEncoding !== undefined) headers.push(["Content-Encoding", model.contentEncoding]);
    if (model.protocolVersion !== undefined) headers.push(["MCP-Protocol-Version", model.protocolVersion]);
    if (model.mcpHeaders !== "none") {
      headers.push(["Mcp-Method", "tools/call"], ["Mcp-Name", model.mcpHeaders === "matching" ? "weather_now" : "admin_wipe"]);
    }
    return { scopes: model.scopes, request: { label: "fuzz", method: model.httpMethod, headers, body } };
  });
