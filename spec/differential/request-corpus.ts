// The fixed requests of the differential suite: every call of the catalogue, and the hostile
// classes of the hardening issue, each a request whose bytes a gate and an upstream could read two
// ways. Each case is sent with tokens of several scope sets; the upstreams' ran logs judge it.
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import type { HeaderList } from "../../kong/driver";
import { formatJsonRpc } from "../support/gate-requests";
import { encodeUtf7Run } from "../support/utf7";

/** One request, complete but for the token and the case header. */
export interface RequestCase {
  /** What the case tries, in one line (a class prefix, then the detail). */
  readonly label: string;
  readonly method: string;
  readonly headers: HeaderList;
  readonly body: Buffer;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  readonly chunked?: boolean;
}

export const ACCEPT: [string, string] = ["Accept", "application/json, text/event-stream"];
const JSON_HEADERS: HeaderList = [["Content-Type", "application/json"], ACCEPT];

/** A POST of `body` with `headers` (default: Content-Type application/json and the Accept MCP asks for). */
function post(label: string, body: string | Buffer, headers: HeaderList = JSON_HEADERS): RequestCase {
  return { label, method: "POST", headers, body: Buffer.from(body) };
}

export const PUBLIC_FILE = "file:///srv/public/readme.txt";
export const SECRET_FILE = "file:///srv/secret/keys.txt";
const INITIALIZE_PARAMS = { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "differential", version: "1.0.0" } };
/** The per-request envelope of MCP 2026-07-28, which has no initialize. */
const MODERN_META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "differential", version: "1.0.0" },
};

/** Every method of the catalogue on an allowed and a denied item, as an MCP client sends them. */
export function catalogueCalls(): RequestCase[] {
  const calls: [string, string][] = [
    ["initialize", formatJsonRpc("initialize", INITIALIZE_PARAMS)],
    ["notifications/initialized", formatJsonRpc("notifications/initialized", {}, undefined)],
    ["ping", formatJsonRpc("ping")],
    ["server/discover", formatJsonRpc("server/discover", {})],
    ["tools/list", formatJsonRpc("tools/list", {})],
    ["resources/list", formatJsonRpc("resources/list", {})],
    ["resources/templates/list", formatJsonRpc("resources/templates/list", {})],
    ["prompts/list", formatJsonRpc("prompts/list", {})],
    ["tools/call weather_now", formatJsonRpc("tools/call", { name: "weather_now", arguments: { city: "Lyon" } })],
    ["tools/call admin_wipe", formatJsonRpc("tools/call", { name: "admin_wipe", arguments: {} })],
    ["resources/read public", formatJsonRpc("resources/read", { uri: PUBLIC_FILE })],
    ["resources/read secret", formatJsonRpc("resources/read", { uri: SECRET_FILE })],
    ["resources/read public template", formatJsonRpc("resources/read", { uri: "file:///srv/public/notes.md" })],
    ["resources/read secret template", formatJsonRpc("resources/read", { uri: "file:///srv/secret/plans.md" })],
    ["resources/subscribe public", formatJsonRpc("resources/subscribe", { uri: PUBLIC_FILE })],
    ["resources/subscribe secret", formatJsonRpc("resources/subscribe", { uri: SECRET_FILE })],
    ["resources/unsubscribe secret", formatJsonRpc("resources/unsubscribe", { uri: SECRET_FILE })],
    ["prompts/get public_summary", formatJsonRpc("prompts/get", { name: "public_summary" })],
    ["prompts/get secret_digest", formatJsonRpc("prompts/get", { name: "secret_digest" })],
    ["logging/setLevel", formatJsonRpc("logging/setLevel", { level: "info" })],
    ["2026-07-28 tools/call admin_wipe", formatJsonRpc("tools/call", { name: "admin_wipe", arguments: {}, _meta: MODERN_META })],
    ["2026-07-28 resources/read secret", formatJsonRpc("resources/read", { uri: SECRET_FILE, _meta: MODERN_META })],
  ];
  const cases = calls.map(([label, body]) => post(`catalogue: ${label}`, body));
  // The 2026-07-28 calls also in the form its servers route on: the version and routing headers.
  for (const [label, name, body] of [
    ["tools/call admin_wipe", "admin_wipe", formatJsonRpc("tools/call", { name: "admin_wipe", arguments: {}, _meta: MODERN_META })],
    ["resources/read secret", SECRET_FILE, formatJsonRpc("resources/read", { uri: SECRET_FILE, _meta: MODERN_META })],
  ] as const) {
    const method = label.split(" ")[0] as string;
    cases.push(post(`catalogue: 2026-07-28 ${label} with its headers`, body, [...JSON_HEADERS, ["MCP-Protocol-Version", "2026-07-28"], ["Mcp-Method", method], ["Mcp-Name", name]]));
  }
  return cases;
}

/**
 * A message that reads as `visible` (its members, without `id`) in UTF-8 and, decoded as UTF-7,
 * as `hidden` (members too). The hidden members ride in the `id` string, which they close in UTF-7
 * before repeating `id` last: JSON.parse keeps the last of two members, so every hidden member
 * wins upstream, and no member is left over for a strict JSON-RPC schema to refuse.
 */
export function hideCallInUtf7(visible: string, hidden: string, variant: "utf-7" | "utf-7-imap" = "utf-7"): string {
  return `{${visible},"id":"${encodeUtf7Run(`1",${hidden},"id":"`, variant)}"}`;
}

/**
 * A JSON-RPC response in UTF-8 that is tools/call `tool` in UTF-7: the response's `result` member
 * becomes an argument of the call (the second run closes the call and reopens `id` for the last quote).
 */
export function hideToolCallBehindResponse(tool: string): string {
  const opening = encodeUtf7Run(`1","method":"tools/call","params":{"name":${JSON.stringify(tool)},"arguments":{"z":"`);
  return `{"jsonrpc":"2.0","id":"${opening}","result":"${encodeUtf7Run('"}},"id":"')}"}`;
}

const ADMIN_WIPE_MEMBERS = '"method":"tools/call","params":{"name":"admin_wipe","arguments":{}}';
const PING_MEMBERS = '"jsonrpc":"2.0","method":"ping"';

function charsetCases(): RequestCase[] {
  const cases: RequestCase[] = [];
  for (const contentType of [
    "application/json; charset=utf-7",
    "application/json; charset=UTF-7",
    'application/json; charset="utf-7"',
    "application/json;charset=utf-7",
    "application/json; charset=utf-7; x=1",
    "APPLICATION/JSON; CHARSET=UTF-7",
  ]) {
    const headers: HeaderList = [["Content-Type", contentType], ACCEPT];
    cases.push(post(`charset: ${contentType}, ping hiding tools/call admin_wipe`, hideCallInUtf7(PING_MEMBERS, ADMIN_WIPE_MEMBERS), headers));
    cases.push(post(`charset: ${contentType}, a response hiding tools/call admin_wipe`, hideToolCallBehindResponse("admin_wipe"), headers));
  }
  const imapHeaders: HeaderList = [["Content-Type", "application/json; charset=utf-7-imap"], ACCEPT];
  cases.push(post("charset: utf-7-imap, ping hiding tools/call admin_wipe", hideCallInUtf7(PING_MEMBERS, ADMIN_WIPE_MEMBERS, "utf-7-imap"), imapHeaders));
  const weather = '"jsonrpc":"2.0","method":"tools/call","params":{"name":"weather_now","arguments":{}}';
  const utf7: HeaderList = [["Content-Type", "application/json; charset=utf-7"], ACCEPT];
  cases.push(post("charset: utf-7, weather_now hiding params naming admin_wipe", hideCallInUtf7(weather, '"params":{"name":"admin_wipe","arguments":{}}'), utf7));
  cases.push(post("charset: utf-7, public readme hiding the secret keys", hideCallInUtf7(`"jsonrpc":"2.0","method":"resources/read","params":{"uri":"${PUBLIC_FILE}"}`, `"params":{"uri":"${SECRET_FILE}"}`), utf7));
  const adminWipe = formatJsonRpc("tools/call", { name: "admin_wipe", arguments: {} });
  for (const [charset, encoding] of [["utf-16le", "utf16le"], ["utf-16", "utf16le"], ["iso-8859-1", "latin1"], ["latin1", "latin1"], ["utf-8", "utf8"], ["UTF8", "utf8"]] as const) {
    const bom = charset === "utf-16" ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0);
    cases.push(post(`charset: ${charset} tools/call admin_wipe`, Buffer.concat([bom, Buffer.from(adminWipe, encoding)]), [["Content-Type", `application/json; charset=${charset}`], ACCEPT]));
  }
  cases.push(post("charset: UTF-8 byte order mark before tools/call admin_wipe", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(adminWipe)])));
  cases.push(post("charset: UTF-16LE without charset, tools/call admin_wipe", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(adminWipe, "utf16le")])));
  // Two Content-Type fields: which one a reader takes decides the charset.
  const smuggled = hideCallInUtf7(PING_MEMBERS, ADMIN_WIPE_MEMBERS);
  cases.push(post("charset: utf-7 Content-Type first, plain second", smuggled, [["Content-Type", "application/json; charset=utf-7"], ["Content-Type", "application/json"], ACCEPT]));
  cases.push(post("charset: plain Content-Type first, utf-7 second", smuggled, [["Content-Type", "application/json"], ["Content-Type", "application/json; charset=utf-7"], ACCEPT]));
  return cases;
}

function contentEncodingCases(): RequestCase[] {
  const adminWipe = Buffer.from(formatJsonRpc("tools/call", { name: "admin_wipe", arguments: {} }));
  const ping = formatJsonRpc("ping");
  const encoders: Record<string, (bytes: Buffer) => Buffer> = { gzip: gzipSync, "x-gzip": gzipSync, deflate: deflateSync, br: brotliCompressSync, GZIP: gzipSync };
  const cases = Object.entries(encoders).map(([encoding, encode]) =>
    post(`content-encoding: ${encoding} tools/call admin_wipe`, encode(adminWipe), [...JSON_HEADERS, ["Content-Encoding", encoding]]),
  );
  cases.push(post("content-encoding: gzip, identity", gzipSync(adminWipe), [...JSON_HEADERS, ["Content-Encoding", "gzip, identity"]]));
  cases.push(post("content-encoding: two fields, identity then gzip", gzipSync(adminWipe), [...JSON_HEADERS, ["Content-Encoding", "identity"], ["Content-Encoding", "gzip"]]));
  cases.push(post("content-encoding: identity, tools/call admin_wipe", adminWipe, [...JSON_HEADERS, ["Content-Encoding", "identity"]]));
  cases.push(post("content-encoding: gzip declared on a plain ping", ping, [...JSON_HEADERS, ["Content-Encoding", "gzip"]]));
  return cases;
}

/** Spellings of the secret file (and of its template) that resolve outside file:///srv/public/. */
export const HOSTILE_URIS = [
  "file:///srv/public/../secret/keys.txt",
  "file:///srv/public/./../secret/keys.txt",
  "file:///srv/public/x/../../secret/keys.txt",
  "file:///srv/public/%2e%2e/secret/keys.txt",
  "file:///srv/public/%2E%2E/secret/keys.txt",
  "file:///srv/public/.%2e/secret/keys.txt",
  "file:///srv/public/%2e./secret/keys.txt",
  "file:///srv/public/..\\secret\\keys.txt",
  "file:///srv/public\\..\\secret\\keys.txt",
  "file:///srv/public/\t../secret/keys.txt",
  "file:///srv/public/.\t./secret/keys.txt",
  "file:///srv/public/\n../secret/keys.txt",
  "file:///srv/public/..%2fsecret%2fkeys.txt",
  "file:///srv/public/..%5csecret%5ckeys.txt",
  "file:///srv/public/../secret/plans.md",
  "file:///srv/public/%2e%2e/secret/plans.md",
  "file:///srv/public/readme.txt/../../secret/keys.txt",
  "file:///srv/public/readme.txt#/../../secret/keys.txt",
  "file:///srv/public/readme.txt?/../../secret/keys.txt",
  "file:///srv/public/\u0000/../../secret/keys.txt",
  "file:///srv/public/\uff0e\uff0e/secret/keys.txt",
  "file:///srv/public/..",
  "file:///srv/public/.",
  "file://localhost/srv/public/../secret/keys.txt",
];

function resourceUriCases(): RequestCase[] {
  const cases: RequestCase[] = [];
  for (const uri of HOSTILE_URIS) {
    cases.push(post(`resource URI: read ${JSON.stringify(uri)}`, formatJsonRpc("resources/read", { uri })));
    cases.push(post(`resource URI: subscribe ${JSON.stringify(uri)}`, formatJsonRpc("resources/subscribe", { uri })));
  }
  cases.push(post("resource URI: unsubscribe through a dot segment", formatJsonRpc("resources/unsubscribe", { uri: HOSTILE_URIS[0] })));
  return cases;
}

/** Names that fold onto `name` under Unicode case folding or once NUL and default-ignorables are dropped. */
const FOLDED_SPELLINGS: Readonly<Record<string, readonly string[]>> = {
  name: ["Name", "NAME", "nAme", "name\u0000", "\u0000name", "na\u200bme", "name\u00ad"],
  uri: ["URI", "Uri", "uri\u0000", "ur\u0131"],
  method: ["METHOD", "Method", "mEthod", "method\u0000", "meth\u200bod"],
  params: ["Params", "PARAMS", "param\u017f", "params\u0000", "\u017fparams"],
};

function foldedMemberCases(): RequestCase[] {
  const cases: RequestCase[] = [];
  const pairs = [
    { method: "tools/call", member: "name", allowed: "weather_now", denied: "admin_wipe" },
    { method: "prompts/get", member: "name", allowed: "public_summary", denied: "secret_digest" },
    { method: "resources/read", member: "uri", allowed: PUBLIC_FILE, denied: SECRET_FILE },
    { method: "resources/subscribe", member: "uri", allowed: PUBLIC_FILE, denied: SECRET_FILE },
  ];
  for (const { method, member, allowed, denied } of pairs) {
    for (const folded of FOLDED_SPELLINGS[member] ?? []) {
      const exact = `${JSON.stringify(member)}:${JSON.stringify(allowed)}`;
      const other = `${JSON.stringify(folded)}:${JSON.stringify(denied)}`;
      const extra = method === "tools/call" ? ',"arguments":{}' : "";
      for (const [order, params] of [["after", `{${exact},${other}${extra}}`], ["before", `{${other},${exact}${extra}}`]]) {
        cases.push(post(`folded names: ${method} ${JSON.stringify(folded)} ${order} ${member}`, `{"jsonrpc":"2.0","id":1,"method":${JSON.stringify(method)},"params":${params}}`));
      }
      cases.push(post(`folded names: ${method} only ${JSON.stringify(folded)}`, `{"jsonrpc":"2.0","id":1,"method":${JSON.stringify(method)},"params":{${`${JSON.stringify(folded)}:${JSON.stringify(denied)}`}${extra}}}`));
    }
  }
  const adminParams = '{"name":"admin_wipe","arguments":{}}';
  for (const folded of FOLDED_SPELLINGS["method"] ?? []) {
    const key = JSON.stringify(folded);
    cases.push(post(`folded names: ping with ${key} tools/call after it`, `{"jsonrpc":"2.0","id":1,"method":"ping",${key}:"tools/call","params":${adminParams}}`));
    cases.push(post(`folded names: ${key} tools/call before method ping`, `{"jsonrpc":"2.0","id":1,${key}:"tools/call","method":"ping","params":${adminParams}}`));
    cases.push(post(`folded names: a response with ${key} tools/call`, `{"jsonrpc":"2.0","id":1,"result":{},${key}:"tools/call","params":${adminParams}}`));
    cases.push(post(`folded names: only ${key} tools/call`, `{"jsonrpc":"2.0","id":1,${key}:"tools/call","params":${adminParams}}`));
  }
  for (const folded of FOLDED_SPELLINGS["params"] ?? []) {
    const key = JSON.stringify(folded);
    cases.push(post(`folded names: tools/call weather_now with ${key} naming admin_wipe`, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_now","arguments":{}},${key}:${adminParams}}`));
    cases.push(post(`folded names: ${key} naming admin_wipe before params`, `{"jsonrpc":"2.0","id":1,"method":"tools/call",${key}:${adminParams},"params":{"name":"weather_now","arguments":{}}}`));
  }
  cases.push(post("folded names: Jsonrpc and ID beside the real ones", '{"jsonrpc":"2.0","Jsonrpc":"1.0","id":1,"ID":2,"method":"tools/call","params":{"name":"weather_now","arguments":{}}}'));
  return cases;
}

function escapeAndDuplicateCases(): RequestCase[] {
  return [
    post("escapes: method tools\\/call admin_wipe", '{"jsonrpc":"2.0","id":1,"method":"tools\\/call","params":{"name":"admin_wipe","arguments":{}}}'),
    post("escapes: \\u-escaped method and item", '{"jsonrpc":"2.0","id":1,"method":"\\u0074ools/call","params":{"name":"admin\\u005fwipe","arguments":{}}}'),
    post("escapes: \\u-escaped member names", '{"jsonrpc":"2.0","id":1,"\\u006dethod":"tools/call","\\u0070arams":{"\\u006eame":"admin_wipe","arguments":{}}}'),
    post("escapes: weather_ then NUL then admin_wipe", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_\\u0000admin_wipe","arguments":{}}}'),
    post("escapes: weather_now then a lone surrogate", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_now\\ud800","arguments":{}}}'),
    post("escapes: a public URI with a lone surrogate and dots", '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///srv/public/\\udc00/../../secret/keys.txt"}}'),
    post("duplicates: method ping then tools/call", `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"admin_wipe","arguments":{}}}`),
    post("duplicates: name weather_now then admin_wipe", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_now","name":"admin_wipe","arguments":{}}}'),
    post("duplicates: escaped and plain name", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_now","\\u006eame":"admin_wipe","arguments":{}}}'),
    post("duplicates: two params", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_now"},"params":{"name":"admin_wipe","arguments":{}}}'),
    post("duplicates: uri public then secret", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"${PUBLIC_FILE}","uri":"${SECRET_FILE}"}}`),
    post("prototype: __proto__ carrying a method", '{"jsonrpc":"2.0","id":1,"__proto__":{"method":"tools/call"},"method":"ping","params":{"name":"admin_wipe"}}'),
  ];
}

function batchNotificationAndResponseCases(): RequestCase[] {
  const adminWipe = formatJsonRpc("tools/call", { name: "admin_wipe", arguments: {} }, 2);
  const response = '{"jsonrpc":"2.0","id":9,"result":{}}';
  return [
    post("batch: ping and tools/call admin_wipe", `[${formatJsonRpc("ping")},${adminWipe}]`),
    post("batch: weather_now and admin_wipe", `[${formatJsonRpc("tools/call", { name: "weather_now", arguments: {} })},${adminWipe}]`),
    post("batch: notifications/initialized and resources/read secret", `[${formatJsonRpc("notifications/initialized", {}, undefined)},${formatJsonRpc("resources/read", { uri: SECRET_FILE }, 3)}]`),
    post("batch: a response and admin_wipe", `[${response},${adminWipe}]`),
    post("batch: nested", `[[${adminWipe}]]`),
    post("batch: empty", "[]"),
    post("batch: ping with METHOD tools/call", `[{"jsonrpc":"2.0","id":1,"method":"ping","METHOD":"tools/call","params":{"name":"admin_wipe","arguments":{}}}]`),
    post("batch: 1,000 pings", `[${Array.from({ length: 1000 }, (_, index) => formatJsonRpc("ping", undefined, index)).join(",")}]`),
    post("notification: tools/call admin_wipe without id", formatJsonRpc("tools/call", { name: "admin_wipe", arguments: {} }, undefined)),
    post("notification: resources/read secret without id", formatJsonRpc("resources/read", { uri: SECRET_FILE }, undefined)),
    post("notification: notifications/cancelled", formatJsonRpc("notifications/cancelled", { requestId: 1 }, undefined)),
    post("notification: notifications/roots/list_changed", formatJsonRpc("notifications/roots/list_changed", {}, undefined)),
    post("notification: ping with Method tools/call", '{"jsonrpc":"2.0","method":"notifications/initialized","Method":"tools/call","params":{"name":"admin_wipe","arguments":{}}}'),
    post("response: a result", response),
    post("response: an error", '{"jsonrpc":"2.0","id":9,"error":{"code":-32000,"message":"no"}}'),
    post("response: a result that also names a method", `{"jsonrpc":"2.0","id":1,"result":{},${ADMIN_WIPE_MEMBERS}}`),
    post("response: an error that also names a method", `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"},${ADMIN_WIPE_MEMBERS}}`),
  ];
}

function sizeAndDepthCases(): RequestCase[] {
  const weather = (argumentsText: string) => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_now","arguments":${argumentsText}}}`;
  const admin = (argumentsText: string) => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_wipe","arguments":${argumentsText}}}`;
  const nested = (depth: number) => `{"city":"x","deep":${"[".repeat(depth)}${"]".repeat(depth)}}`;
  return [
    post("size: 900 kB of whitespace before weather_now", `${" ".repeat(900_000)}${weather("{}")}`),
    post("size: a 500 kB city", weather(JSON.stringify({ city: "x".repeat(500_000) }))),
    post("size: over max_body_size, admin_wipe", admin(JSON.stringify({ pad: "x".repeat(1_100_000) }))),
    post("depth: 64 levels in the arguments", weather(nested(64))),
    post("depth: 1,000 levels in the arguments", weather(nested(1000))),
    post("depth: 100,000 levels in the arguments", weather(nested(100_000))),
    post("depth: 100,000 levels in admin_wipe's arguments", admin(nested(100_000))),
    post("depth: a body that is 10,000 nested arrays", `${"[".repeat(10_000)}${"]".repeat(10_000)}`),
  ];
}

function headerAndTransportCases(): RequestCase[] {
  const adminWipe = formatJsonRpc("tools/call", { name: "admin_wipe", arguments: {} });
  const weather = formatJsonRpc("tools/call", { name: "weather_now", arguments: {} });
  return [
    post("headers: Mcp-Name weather_now on admin_wipe", adminWipe, [...JSON_HEADERS, ["Mcp-Method", "tools/call"], ["Mcp-Name", "weather_now"]]),
    post("headers: Mcp-Method ping on tools/call", adminWipe, [...JSON_HEADERS, ["Mcp-Method", "ping"]]),
    post("headers: two Mcp-Name fields", weather, [...JSON_HEADERS, ["Mcp-Method", "tools/call"], ["Mcp-Name", "weather_now"], ["Mcp-Name", "admin_wipe"]]),
    post("headers: MCP-Protocol-Version 2026-07-28 without the envelope", adminWipe, [...JSON_HEADERS, ["MCP-Protocol-Version", "2026-07-28"]]),
    post("headers: no Content-Type", adminWipe, [ACCEPT]),
    post("headers: text/plain", adminWipe, [["Content-Type", "text/plain"], ACCEPT]),
    post("headers: application/json-seq", adminWipe, [["Content-Type", "application/json-seq"], ACCEPT]),
    post("headers: application/vnd.api+json", adminWipe, [["Content-Type", "application/vnd.api+json"], ACCEPT]),
    { label: "transport: chunked tools/call admin_wipe", method: "POST", headers: JSON_HEADERS, body: Buffer.from(adminWipe), chunked: true },
    { label: "transport: chunked weather_now", method: "POST", headers: JSON_HEADERS, body: Buffer.from(weather), chunked: true },
    { label: "transport: GET with a tools/call body", method: "GET", headers: JSON_HEADERS, body: Buffer.from(adminWipe) },
    { label: "transport: DELETE with a tools/call body", method: "DELETE", headers: JSON_HEADERS, body: Buffer.from(adminWipe) },
    { label: "transport: PUT tools/call admin_wipe", method: "PUT", headers: JSON_HEADERS, body: Buffer.from(adminWipe) },
    { label: "transport: GET asking for a websocket upgrade", method: "GET", headers: [ACCEPT, ["Connection", "Upgrade"], ["Upgrade", "websocket"], ["Sec-WebSocket-Version", "13"], ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="]], body: Buffer.alloc(0) },
    { label: "transport: GET for the event stream", method: "GET", headers: [["Accept", "text/event-stream"]], body: Buffer.alloc(0) },
  ];
}

/** The hostile classes of the hardening issue, against the catalogue. */
export function hostileCases(): RequestCase[] {
  return [
    ...charsetCases(),
    ...contentEncodingCases(),
    ...resourceUriCases(),
    ...foldedMemberCases(),
    ...escapeAndDuplicateCases(),
    ...batchNotificationAndResponseCases(),
    ...sizeAndDepthCases(),
    ...headerAndTransportCases(),
  ];
}
