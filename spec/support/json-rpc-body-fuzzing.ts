// Generators of hostile JSON-RPC POST bodies (fast-check) and an oracle that predicts the gate's
// answer from the body as JSON.parse reads it and from what the ACL mapping means, without the
// plugin's code: a fuzzed request the oracle denies must never pass.
import fc from "fast-check";

/** The ACL of the fuzzed gate (scope_method_mapping). */
export const FUZZ_SCOPE_METHOD_MAPPING = [
  { scope: "mcp:basic", methods: ["initialize", "ping", "notifications/*", "tools/list"] },
  { scope: "mcp:weather", methods: ["tools/call:weather_*", "prompts/get:forecast?"] },
  { scope: "mcp:docs", methods: ["resources/list", "resources/read:file://*/*.md"] },
  { scope: "mcp:admin", methods: ["*"] },
] as const;

export const FUZZ_SCOPES = FUZZ_SCOPE_METHOD_MAPPING.map((entry) => entry.scope);

type FuzzScope = (typeof FUZZ_SCOPES)[number];
type JsonObject = Record<string, unknown>;

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function ownMember(value: unknown, name: string): unknown {
  return isPlainObject(value) && Object.hasOwn(value, name) ? value[name] : undefined;
}

/** session_methods by default: allowed to every token holding a mapped scope, whatever the mapping says. */
const SESSION_METHODS = ["initialize", "ping", "notifications/initialized", "notifications/cancelled", "server/discover"];

/** Each scope's grant, written from the mapping's meaning: exact names, a prefix, a glob spelled out. */
const GRANTS: Record<FuzzScope, (method: string, params: unknown) => boolean> = {
  "mcp:basic": (method) => ["initialize", "ping", "tools/list"].includes(method) || method.startsWith("notifications/"),
  "mcp:weather": (method, params) => {
    const name = ownMember(params, "name");
    if (typeof name !== "string") return false;
    if (method === "tools/call") return name.startsWith("weather_");
    return method === "prompts/get" && name.length === "forecast".length + 1 && name.startsWith("forecast");
  },
  "mcp:docs": (method, params) => {
    if (method === "resources/list") return true;
    const uri = ownMember(params, "uri");
    // file://*/*.md: the scheme prefix, a "/" somewhere after it, the .md suffix, none overlapping.
    const matches = (spelling: string) => spelling.startsWith("file://") && spelling.endsWith(".md") && spelling.slice(7, -3).includes("/");
    // As sent (the Go SDK reads it so) and as a WHATWG URL parser resolves it (TypeScript and Python SDKs).
    return method === "resources/read" && typeof uri === "string" && matches(uri) && matches(URL.canParse(uri) ? new URL(uri).href : uri);
  },
  "mcp:admin": () => true,
};

/** One fuzzed request: who sends it (scopes of a valid token, or no token), its media type and body. */
export interface FuzzedRequest {
  readonly scopes: readonly FuzzScope[] | undefined;
  readonly contentType: string | undefined;
  /** The body text; `byteMutation` then damages its UTF-8 bytes. */
  readonly text: string;
  readonly byteMutation: "none" | "bom" | "invalid-byte";
  /** Whether a message or its params repeats a member name (the oracle cannot see it after JSON.parse). */
  readonly repeatsMemberName: boolean;
}

/** The bytes sent for a fuzzed request. */
export function encodeFuzzedBody(request: FuzzedRequest): Buffer {
  const bytes = Buffer.from(request.text, "utf8");
  if (request.byteMutation === "bom") return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
  if (request.byteMutation === "invalid-byte") return Buffer.concat([bytes.subarray(0, bytes.length >> 1), Buffer.from([0xff]), bytes.subarray(bytes.length >> 1)]);
  return bytes;
}

/** The resource methods whose params.uri the gate reads, and URI spellings that resolve elsewhere upstream. */
const RESOURCE_METHODS = ["resources/read", "resources/subscribe", "resources/unsubscribe"];
const RESOLVES_ELSEWHERE = [/[\x00-\x20\x7f\\]/, /%2e|%2f|%5c/i, /\/\.\.?([/?#]|$)/];

/** application/json or +json, with no charset parameter or only utf-8 (utf8) ones (the fuzzed types hold no quoted semicolons). */
function isUtf8JsonMediaType(contentType: string | undefined): boolean {
  const [essence, ...parameters] = (contentType ?? "").split(";").map((part) => part.trim().toLowerCase());
  if (essence !== "application/json" && !essence.endsWith("+json")) return false;
  return parameters.every((parameter) => !parameter.startsWith("charset=") || ["charset=utf-8", "charset=utf8"].includes(parameter.replaceAll('"', "")));
}

/**
 * The answer the gate must give, in summarizeOutcome's words: 401 without a token, 400 (-32600)
 * for an empty body, 415 for a non-JSON media type or another charset than UTF-8, 400 (-32700) for
 * bytes that are not UTF-8 JSON or start with a byte order mark, 400 (-32600) for repeated member
 * names or messages that are not JSON-RPC, 400 (-32602) for resource URIs spelled to resolve
 * elsewhere, 403 when some call is neither a session method nor allowed by one of the token's scopes,
 * else a pass.
 */
export function predictAnswer(request: FuzzedRequest): string {
  if (request.scopes === undefined) return "401 unauthorized from plugin";
  // A token holding none of the mapped scopes is allowed nothing: refused before its body is read.
  if (request.scopes.length === 0) return "403 insufficient_scope from plugin";
  const invalid = "400 jsonrpc -32600 from plugin";
  const bytes = encodeFuzzedBody(request);
  // A POST without a body carries no JSON-RPC request, whatever its media type.
  if (bytes.length === 0) return invalid;
  if (!isUtf8JsonMediaType(request.contentType)) return "415 unsupported_media_type from plugin";
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch {
    return "400 jsonrpc -32700 from plugin";
  }
  if (request.repeatsMemberName) return invalid;
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  if (messages.length === 0) return invalid;
  const calls: { method: string; params: unknown }[] = [];
  for (const message of messages) {
    if (!isPlainObject(message)) return invalid;
    if (!Object.hasOwn(message, "method")) {
      if (Object.hasOwn(message, "result") || Object.hasOwn(message, "error")) continue;
      return invalid;
    }
    if (typeof message.method !== "string") return invalid;
    const uri = ownMember(ownMember(message, "params"), "uri");
    if (RESOURCE_METHODS.includes(message.method) && typeof uri === "string" && RESOLVES_ELSEWHERE.some((pattern) => pattern.test(uri))) return "400 jsonrpc -32602 from plugin";
    calls.push({ method: message.method, params: ownMember(message, "params") });
  }
  const scopes = request.scopes;
  const allowed = ({ method, params }: { method: string; params: unknown }) => SESSION_METHODS.includes(method) || scopes.some((scope) => GRANTS[scope](method, params));
  return calls.every(allowed) ? "proceed" : "403 insufficient_scope from plugin";
}

const TRICKY_METHODS = [
  "initialize", "ping", "tools/list", "tools/call", "prompts/get", "resources/read", "resources/list", "notifications/initialized",
  "Tools/Call", "TOOLS/CALL", "tools/call ", " tools/call", "tools//call", "tools/call/", "tools/list/x", "tools\u2215call", "tools/call\u200b",
  "tools/call\u0000", "notifications/../tools/call", "notificationsX/y", "notifications", "__proto__", "constructor", "toString", "*", "",
];
const TRICKY_ITEMS = [
  "weather_today", "weather_", "weather", "Weather_today", "get_weather_today", "weather_\u0000x", "forecast1", "forecast", "forecast12",
  "file:///docs/a.md", "file://host/a.md", "file://a.md", "file:///.md", "file:///a.mdx", "file://x/y.MD", "FILE:///a.md",
  `file://${"/".repeat(64)}x`, "__proto__", "constructor", "file:///docs/../secret.md", "file:///docs/%2e%2E/secret.md", "file:///docs\\..\\s.md",
  "file:///docs/\t../s.md", "file:///docs/./a.md", "FILE:///docs/a.md", "file://HOST/a.md", "file:///docs/caf\u00e9.md",
];
const JSON_CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.mcp+json", 'application/json; charset="UTF-8"', "application/json; charset=utf8"];
const OTHER_CONTENT_TYPES = [
  "text/plain", "application/x-www-form-urlencoded", undefined, "application/jsonx", "application/json-rpc",
  "application/json; charset=utf-7", "application/json; charset=UTF-16LE", "application/json; charset=us-ascii",
];

/** Mostly `usual`, sometimes one of `unusual`: hostile variants without drowning the ACL's verdicts. */
function mostly<T>(usual: T, ...unusual: T[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: fc.constant(usual), weight: 6 * unusual.length }, { arbitrary: fc.constantFrom(...unusual), weight: unusual.length });
}

const methodArbitrary = fc.oneof({ arbitrary: fc.constantFrom(...TRICKY_METHODS), weight: 4 }, { arbitrary: fc.string({ maxLength: 16 }), weight: 1 });
const itemArbitrary = fc.oneof({ arbitrary: fc.constantFrom(...TRICKY_ITEMS), weight: 4 }, { arbitrary: fc.string({ maxLength: 16 }), weight: 1 });

/** A message as members to write, with the spellings and repetitions that JSON.parse hides. */
interface MessageModel {
  readonly jsonrpc: string | undefined;
  readonly id: number | string | null | undefined;
  readonly method: unknown;
  readonly params: unknown;
  readonly result: unknown;
  /** A member carrying another call where a careless reader might look for one. */
  readonly lookalike: "none" | "__proto__" | "constructor" | "prototype";
  readonly methodSpelling: "plain" | "unicode-escapes" | "escaped-slashes";
  readonly methodKeySpelling: "plain" | "unicode-escapes";
  readonly repeat: "none" | "method" | "method-last" | "params.name" | "jsonrpc" | "id";
}

const messageArbitrary: fc.Arbitrary<MessageModel> = fc.record({
  jsonrpc: mostly<string | undefined>("2.0", undefined, "1.0"),
  id: fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null), fc.constant(undefined)),
  method: fc.oneof({ arbitrary: methodArbitrary, weight: 20 }, fc.integer(), fc.constant(null), fc.constant(undefined), fc.constant(["tools/call"])),
  params: fc.oneof(
    fc.constant(undefined),
    fc.record({ name: itemArbitrary }),
    fc.record({ uri: itemArbitrary }),
    fc.record({ method: methodArbitrary, name: itemArbitrary, uri: itemArbitrary }),
    fc.record({ name: fc.oneof(fc.integer(), fc.constant(null), fc.array(itemArbitrary, { maxLength: 2 })) }),
    fc.constantFrom([], null, "tools/call", [{ name: "weather_x" }]),
  ),
  result: mostly<object | undefined>(undefined, {}),
  lookalike: mostly<MessageModel["lookalike"]>("none", "__proto__", "constructor", "prototype"),
  methodSpelling: mostly<MessageModel["methodSpelling"]>("plain", "unicode-escapes", "escaped-slashes"),
  methodKeySpelling: mostly<MessageModel["methodKeySpelling"]>("plain", "unicode-escapes"),
  repeat: mostly<MessageModel["repeat"]>("none", "method", "method-last", "params.name", "jsonrpc", "id"),
});

/** A JSON string literal with every UTF-16 code unit written as \uXXXX. */
function spellWithUnicodeEscapes(text: string): string {
  return `"${Array.from({ length: text.length }, (_, index) => `\\u${text.charCodeAt(index).toString(16).padStart(4, "0")}`).join("")}"`;
}

function spellString(text: string, spelling: MessageModel["methodSpelling"]): string {
  if (spelling === "unicode-escapes") return spellWithUnicodeEscapes(text);
  return spelling === "escaped-slashes" ? JSON.stringify(text).replaceAll("/", "\\/") : JSON.stringify(text);
}

function writeObject(members: readonly (readonly [string, string])[]): string {
  return `{${members.map(([key, value]) => `${key}:${value}`).join(",")}}`;
}

/** The message's JSON text, and whether a member name was written twice. */
function writeMessage(model: MessageModel): { text: string; repeated: boolean } {
  const members: [string, string][] = [];
  let repeated = false;
  if (model.jsonrpc !== undefined) members.push(['"jsonrpc"', JSON.stringify(model.jsonrpc)]);
  if (model.id !== undefined) members.push(['"id"', JSON.stringify(model.id)]);
  if (model.method !== undefined) {
    const key = model.methodKeySpelling === "unicode-escapes" ? spellWithUnicodeEscapes("method") : '"method"';
    members.push([key, typeof model.method === "string" ? spellString(model.method, model.methodSpelling) : JSON.stringify(model.method)]);
  }
  if (model.params !== undefined) {
    const name = ownMember(model.params, "name");
    if (model.repeat === "params.name" && name !== undefined) {
      const paramMembers = Object.entries(model.params as JsonObject).map(([key, value]): [string, string] => [JSON.stringify(key), JSON.stringify(value)]);
      members.push(['"params"', writeObject([...paramMembers, ['"name"', JSON.stringify("delete_everything")]])]);
      repeated = true;
    } else {
      members.push(['"params"', JSON.stringify(model.params)]);
    }
  }
  if (model.result !== undefined) members.push(['"result"', JSON.stringify(model.result)]);
  if (model.lookalike !== "none") members.push([JSON.stringify(model.lookalike), JSON.stringify({ method: "tools/call", params: { name: "delete_everything" } })]);
  const repeatedMember = ({ method: '"method"', "method-last": '"method"', jsonrpc: '"jsonrpc"', id: '"id"' } as Record<string, string | undefined>)[model.repeat];
  if (repeatedMember !== undefined && members.some(([key]) => JSON.parse(key) === JSON.parse(repeatedMember))) {
    const second: [string, string] = [repeatedMember, JSON.stringify(repeatedMember === '"method"' ? "tools/call" : "2.0")];
    if (model.repeat === "method-last") members.push(second);
    else members.unshift(second);
    repeated = true;
  }
  return { text: writeObject(members), repeated };
}

const JUNK_MESSAGES = ["1", '"tools/call"', "null", "[]", "true", '[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_everything"}}]'];

const bodyArbitrary = fc.record({
  batch: fc.boolean(),
  messages: fc.array(fc.oneof({ arbitrary: messageArbitrary.map(writeMessage), weight: 20 }, fc.constantFrom(...JUNK_MESSAGES).map((text) => ({ text, repeated: false }))), {
    minLength: 0,
    maxLength: 4,
  }),
  padding: mostly("", " ", "\n\t "),
  textMutation: mostly<"none" | "truncate" | "trailing-garbage">("none", "truncate", "trailing-garbage"),
  byteMutation: mostly<FuzzedRequest["byteMutation"]>("none", "bom", "invalid-byte"),
});

/** Fuzzed requests: scopes (or no token), a media type, a single message or a batch, sometimes damaged. */
export const fuzzedRequestArbitrary: fc.Arbitrary<FuzzedRequest> = fc
  .record({
    scopes: fc.oneof({ arbitrary: fc.constant(undefined), weight: 1 }, { arbitrary: fc.subarray([...FUZZ_SCOPES]), weight: 9 }),
    contentType: fc.oneof({ arbitrary: fc.constantFrom(...JSON_CONTENT_TYPES), weight: 9 }, { arbitrary: fc.constantFrom(...OTHER_CONTENT_TYPES), weight: 1 }),
    body: bodyArbitrary,
  })
  .filter(({ body }) => body.batch || body.messages.length > 0)
  .map(({ scopes, contentType, body }) => {
    const written = body.batch ? `[${body.messages.map((message) => message.text).join(",")}]` : (body.messages[0]?.text ?? "");
    const padded = `${body.padding}${written}${body.padding}`;
    const text = body.textMutation === "truncate" ? padded.trimEnd().slice(0, -1) : body.textMutation === "trailing-garbage" ? `${padded}x` : padded;
    const repeatsMemberName = (body.batch ? body.messages : body.messages.slice(0, 1)).some((message) => message.repeated);
    return { scopes, contentType, text, byteMutation: body.byteMutation, repeatsMemberName };
  });
