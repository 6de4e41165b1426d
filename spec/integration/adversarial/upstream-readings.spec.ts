// The differentials a security review found between the gate's reading of a request and the
// upstream's (Express's body parser, the MCP SDKs' transports, Go's encoding/json): each class is
// sent through Kong's side of the protocol to the real plugin server, with a token whose scopes
// allow only public items, and must be refused where the upstream could run something else.
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { expect } from "chai";
import type { HeaderList, Outcome } from "../../../kong/driver";
import { collectDriverLogLines, startGateDriver, summarizeOutcome, type GateDriver } from "../../support/gate-driver";
import { MCP_RESOURCE } from "../../support/gate-requests";
import { JwksServer } from "../../support/jwks-server";
import { TokenLedger } from "../../support/token-ledger";
import { createSigningKey, encodeSegment, signAccessToken, type TestSigningKey } from "../../support/token-factory";
import { encodeUtf7Run } from "../../support/utf7";

const PUBLIC_SCOPE = "mcp:public";
const UNSUPPORTED_MEDIA_TYPE = "415 unsupported_media_type from plugin";
const INVALID_PARAMS = "400 jsonrpc -32602 from plugin";
const INVALID_MESSAGE = "400 jsonrpc -32600 from plugin";

/**
 * Bytes that UTF-8 reads as a harmless JSON-RPC response (one string member) and UTF-7 as the
 * same response with `"method":"tools/call","params":{"name":"admin_wipe"}` added.
 */
function buildUtf7Polyglot(): string {
  const hidden = [
    encodeUtf7Run('","'), "method", encodeUtf7Run('":"'), "tools/call", encodeUtf7Run('","'), "params", encodeUtf7Run('":{"'),
    "name", encodeUtf7Run('":"'), "admin", encodeUtf7Run("_"), "wipe", encodeUtf7Run('"},"'), "y", encodeUtf7Run('":"'),
  ].join("");
  return `{"jsonrpc":"2.0","id":1,"result":{},"x":"${hidden}"}`;
}

describe("adversarial: requests the upstream reads differently from a naive gate", function () {
  this.timeout(60_000);
  const ledger = new TokenLedger();
  let key: TestSigningKey;
  let jwks: JwksServer;
  let gate: GateDriver;
  let publicToken: string;

  before(async () => {
    key = await createSigningKey("RS256", "readings-key");
    jwks = await JwksServer.start([key.publicJwk]);
    gate = await startGateDriver({
      authorization_servers: [{ url: jwks.url, audience: MCP_RESOURCE }],
      resource: MCP_RESOURCE,
      scopes_supported: [PUBLIC_SCOPE, "mcp:admin"],
      enable_acl: true,
      scope_method_mapping: [
        {
          scope: PUBLIC_SCOPE,
          methods: ["initialize", "notifications/*", "subscriptions/listen", "tools/call:weather_*", "resources/read:file:///srv/public/*", "resources/subscribe:https://docs.example.com/public/*"],
        },
        { scope: "mcp:admin", methods: ["*"] },
      ],
    });
    publicToken = ledger.add(await signAccessToken(key, { issuer: jwks.url, audience: MCP_RESOURCE, claims: { sub: "mallory", scope: PUBLIC_SCOPE } }));
  });

  after(async () => {
    await gate?.close();
    await jwks?.close();
  });

  /** `token` null: no Authorization header. */
  async function send(body: string | Buffer, headers: HeaderList = [["Content-Type", "application/json"]], token: string | null = publicToken, method = "POST"): Promise<Outcome> {
    const authorization: HeaderList = token === null ? [] : [["Authorization", `Bearer ${token}`]];
    return ledger.watch(await gate.send({ method, headers: [...authorization, ...headers], body }));
  }

  async function answerTo(body: string | Buffer, headers?: HeaderList, token?: string): Promise<string> {
    return summarizeOutcome(await send(body, headers, token));
  }

  const call = (method: string, params: Record<string, unknown>) => JSON.stringify({ jsonrpc: "2.0", id: 1, method, params });

  describe("charset: only UTF-8 is read as the gate reads it", () => {
    it("refuses a UTF-7 body that the gate would read as a response and Express as tools/call admin_wipe (415)", async () => {
      const polyglot = buildUtf7Polyglot();
      expect(JSON.parse(polyglot)).not.to.have.property("method");
      // Read as UTF-8 (what an upstream does without a charset) it is a response: nothing to authorize.
      expect(await answerTo(polyglot)).to.equal("proceed");
      for (const contentType of ["application/json; charset=utf-7", "application/json; charset=UTF-7", 'application/json; charset="utf-7"', "application/json;charset=utf-7-imap", "application/json; charset=utf-16"]) {
        expect(await answerTo(polyglot, [["Content-Type", contentType]]), contentType).to.equal(UNSUPPORTED_MEDIA_TYPE);
      }
    });

    it("accepts utf-8 in any case and quoting, and refuses a charset given twice or a second Content-Type (400)", async () => {
      const allowed = call("tools/call", { name: "weather_now" });
      for (const contentType of ["application/json; charset=utf-8", "application/json; charset=UTF-8", 'application/json; charset="utf-8"']) {
        expect(await answerTo(allowed, [["Content-Type", contentType]]), contentType).to.equal("proceed");
      }
      expect(await answerTo(allowed, [["Content-Type", "application/json; charset=utf-8; charset=utf-7"]])).to.equal(UNSUPPORTED_MEDIA_TYPE);
      expect(await answerTo(allowed, [["Content-Type", "application/json"], ["Content-Type", "application/json; charset=utf-7"]])).to.equal("400 invalid_request from plugin");
    });

    it("refuses a UTF-8 byte order mark (400, -32700)", async () => {
      const outcome = await send(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(call("tools/call", { name: "weather_now" }))]));
      expect(summarizeOutcome(outcome)).to.equal("400 jsonrpc -32700 from plugin");
      expect(JSON.parse(outcome.kind === "exit" ? outcome.body.toString() : "{}").error.message).to.equal("the body must not start with a byte order mark");
    });
  });

  it("refuses compressed bodies, which body parsers inflate and the gate cannot judge (415)", async () => {
    const hidden = Buffer.from(call("tools/call", { name: "admin_wipe" }));
    for (const [coding, bytes] of [["gzip", gzipSync(hidden)], ["x-gzip", gzipSync(hidden)], ["deflate", deflateSync(hidden)], ["br", brotliCompressSync(hidden)], ["identity, gzip", gzipSync(hidden)]] as const) {
      expect(await answerTo(bytes, [["Content-Type", "application/json"], ["Content-Encoding", coding]]), coding).to.equal(UNSUPPORTED_MEDIA_TYPE);
    }
    expect(await answerTo(call("tools/call", { name: "weather_now" }), [["Content-Type", "application/json"], ["Content-Encoding", "identity"]])).to.equal("proceed");
  });

  it("refuses resource URIs that resolve outside the granted glob (400, -32602), for read, subscribe and unsubscribe", async () => {
    for (const uri of [
      "file:///srv/public/../secret/keys.txt",
      "file:///srv/public/%2e%2e/secret/keys.txt",
      "file:///srv/public/%2E%2E/secret/keys.txt",
      "file:///srv/public/..\\secret\\keys.txt",
      "file:///srv/public/\t../secret/keys.txt",
      "file:///srv/public/%2e%2e%2fsecret%2fkeys.txt",
    ]) {
      expect(await answerTo(call("resources/read", { uri })), uri).to.equal(INVALID_PARAMS);
    }
    for (const method of ["resources/subscribe", "resources/unsubscribe"]) {
      for (const uri of ["https://docs.example.com/public/../admin/keys", "https://docs.example.com/public/%2E%2E/admin/keys", "https://docs.example.com/public\\..\\admin"]) {
        expect(await answerTo(call(method, { uri })), `${method} ${uri}`).to.equal(INVALID_PARAMS);
      }
    }
    expect(await answerTo(call("resources/read", { uri: "file:///srv/public/readme.txt" }))).to.equal("proceed");
    expect(await answerTo(call("resources/subscribe", { uri: "https://docs.example.com/public/a" }))).to.equal("proceed");
  });

  it("judges a resource URI as sent and as resolved: both must be granted (403 otherwise)", async () => {
    // Upper-case scheme and host, a default port: resolved, these name the granted URIs, as sent they do not.
    expect(await answerTo(call("resources/subscribe", { uri: "HTTPS://docs.example.com:443/public/a" }))).to.equal("403 insufficient_scope from plugin");
    expect(await answerTo(call("resources/read", { uri: "FILE:///srv/public/readme.txt" }))).to.equal("403 insufficient_scope from plugin");
  });

  it("refuses member names that Go or .NET read as the method, params or item (400, -32600), at both levels the ACL reads", async () => {
    for (const body of [
      '{"jsonrpc":"2.0","id":1,"result":{},"METHOD":"tools/call","params":{"name":"admin_wipe"}}',
      '{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"admin_wipe"},"result":{}}',
      '{"jsonrpc":"2.0","id":1,"method":"initialize","Params":{"name":"admin_wipe"}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","param\u017f":{"name":"admin_wipe"},"params":{"name":"weather_now"}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_now","Name":"admin_wipe"}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name\\u0000":"admin_wipe","name":"weather_now"}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"NAME":"admin_wipe","name":"weather_now"}}',
      '[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"Method":"tools/call","params":{"name":"admin_wipe"}}]',
      '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///srv/public/a","URI":"file:///srv/secret/keys.txt"}}',
    ]) {
      expect(await answerTo(body), body).to.equal(INVALID_MESSAGE);
    }
    // Tool arguments are the tool's data: their names are left alone.
    expect(await answerTo('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_now","arguments":{"Name":"x","name":"y"}}}')).to.equal("proceed");
  });

  it("judges each resource subscription of subscriptions/listen (MCP 2026-07-28) as a resources/subscribe", async () => {
    const listen = (notifications: unknown) => JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscriptions/listen", params: { notifications } });
    expect(await answerTo(listen({ resourceSubscriptions: ["https://docs.example.com/public/a"], toolsListChanged: true }))).to.equal("proceed");
    expect(await answerTo(listen({ toolsListChanged: true }))).to.equal("proceed");
    const secret = "https://docs.example.com/admin/keys";
    for (const notifications of [{ resourceSubscriptions: [secret] }, { resource_subscriptions: [secret] }, { ResourceSubscriptions: ["https://docs.example.com/public/a", secret] }]) {
      expect(await answerTo(listen(notifications)), JSON.stringify(notifications)).to.equal("403 insufficient_scope from plugin");
    }
    expect(await answerTo(listen({ resourceSubscriptions: ["https://docs.example.com/public/../admin/keys"] }))).to.equal(INVALID_PARAMS);
    expect(await answerTo(listen({ resourceSubscriptions: ["https://docs.example.com/public/a"], resource_subscriptions: [secret] }))).to.equal(INVALID_MESSAGE);
  });

  it("refuses a token holding no mapped scope before reading a large body", async () => {
    const outsider = ledger.add(await signAccessToken(key, { issuer: jwks.url, audience: MCP_RESOURCE, claims: { sub: "mallory", scope: "openid profile" } }));
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { pad: Array.from({ length: 90_000 }, (_, index) => index) } });
    const outcome = await send(body, [["Content-Type", "application/json"], ["Content-Length", String(body.length)]], outsider);
    expect(summarizeOutcome(outcome)).to.equal("403 insufficient_scope from plugin");
    expect(outcome.pdkCalls.map((pdkCall) => pdkCall.method)).not.to.include("kong.request.get_raw_body");
  });

  it("refuses a protocol upgrade with the ACL on (400): what follows it would never be judged", async () => {
    const outcome = await send("", [["Upgrade", "websocket"], ["Connection", "Upgrade"], ["Sec-WebSocket-Version", "13"], ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="]], publicToken, "GET");
    expect(summarizeOutcome(outcome)).to.equal("400 invalid_request from plugin");
    expect(summarizeOutcome(await send("", [["Upgrade", "h2c"]], publicToken, "GET"))).to.equal("400 invalid_request from plugin");
    expect(summarizeOutcome(await send("", [], publicToken, "GET"))).to.equal("proceed");
  });

  it("refuses every non-canonical spelling of a token's signature (401), so each cannot take a cache entry of its own", async () => {
    const token = ledger.add(await signAccessToken(key, { issuer: jwks.url, audience: MCP_RESOURCE, claims: { scope: PUBLIC_SCOPE } }));
    const body = call("tools/call", { name: "weather_now" });
    expect(await answerTo(body, undefined, token)).to.equal("proceed");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(token[token.length - 1]);
    for (let unusedBits = 1; unusedBits < 16; unusedBits++) {
      const variant = ledger.add(`${token.slice(0, -1)}${alphabet[last | unusedBits]}`);
      expect(await answerTo(body, undefined, variant), variant.slice(-4)).to.equal("401 invalid_token from plugin");
    }
  });

  it("escapes controls, line separators and bidirectional controls a client puts in a log line", async () => {
    const outcome = await send(call("tools/call", { name: "admin\r\n\u2028\u0085\u202eliw" }));
    expect(summarizeOutcome(outcome)).to.equal("403 insufficient_scope from plugin");
    const line = outcome.logs.find((entry) => entry.source === "plugin")?.message ?? "";
    expect(line).to.contain("tools/call admin\\x0d\\x0a\\u2028\\x85\\u202eliw");
    expect(line).not.to.match(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  });

  it("cuts client-chosen values in log lines: a 6 KB kid and a 10 KB path", async () => {
    const forged = `${encodeSegment({ alg: "RS256", kid: "k".repeat(6000) })}.${encodeSegment({ iss: jwks.url, aud: MCP_RESOURCE, exp: Math.floor(Date.now() / 1000) + 60 })}.${"A".repeat(342)}`;
    const outcome = ledger.watch(await gate.send({ path: `/mcp/${"p".repeat(10_000)}`, headers: [["Authorization", `Bearer ${ledger.add(forged)}`]] }));
    expect(summarizeOutcome(outcome)).to.equal("401 invalid_token from plugin");
    const pluginLines = outcome.logs.filter((entry) => entry.source === "plugin").map((entry) => entry.message);
    expect(pluginLines).to.have.length(1);
    expect(pluginLines[0]).to.match(/^mcp-oauth2: 401 on \/mcp\/p+\.\.\.: no key in JWKS \S+ for kid "k+\.\.\.", algorithm RS256$/);
    expect(pluginLines[0].length).to.be.below(500);
    expect(collectDriverLogLines(gate.driver).every((line) => line.length < 2500)).to.equal(true);
  });

  describe("work before authentication", () => {
    const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

    it("answers a megabyte of nesting without a token without reading the body", async () => {
      const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_wipe","arguments":${nested(500_000)}}}`;
      const outcome = await send(body, [["Content-Type", "application/json"], ["Content-Length", String(body.length)]], null);
      expect(summarizeOutcome(outcome)).to.equal("401 unauthorized from plugin");
      expect(outcome.pdkCalls.map((pdkCall) => pdkCall.method)).not.to.include("kong.request.get_raw_body");
    });

    it("refuses the same nesting with a valid token as soon as it passes 128 levels (400, -32600)", async () => {
      const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_now","arguments":${nested(500_000)}}}`;
      const outcome = await send(body);
      expect(summarizeOutcome(outcome)).to.equal(INVALID_MESSAGE);
      expect(JSON.parse(outcome.kind === "exit" ? outcome.body.toString() : "{}").error.message).to.equal("the body nests deeper than 128 levels");
    });
  });
});
