import { expect } from "chai";
import { luaValueToMsgpack } from "../../kong/driver/lua-values";
import { runAccessPhaseInProcess, type InProcessPhase, type PdkCall } from "../../kong/driver";
import { McpOAuth2Plugin } from "../../plugins/mcp-oauth2/handler";
import { formatJsonRpc, MCP_METADATA_URL, MCP_RESOURCE } from "../support/gate-requests";
import { JwksServer } from "../support/jwks-server";
import { createSigningKey, signAccessToken, type TestSigningKey } from "../support/token-factory";

/** A request as a client sent it to Kong (defaults: POST /mcp over http to Kong's port 8000). */
interface HandlerRequest {
  readonly method?: string;
  readonly path?: string;
  /** In order, duplicates allowed, any case. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** A string is sent as UTF-8. */
  readonly body?: string | Buffer;
  /** The scheme, host and port Kong was reached at: what kong.request.get_forwarded_* return without trusted X-Forwarded-*. */
  readonly forwarded?: { readonly scheme: "http" | "https"; readonly host: string; readonly port: number };
  /** Kong's client_body_buffer_size: larger bodies are "on file" and need get_raw_body(max). */
  readonly clientBodyBufferSize?: number;
}

/** One access phase of the handler as Kong saw it: the PDK calls, their effects, and the answer. */
class HandledRequest {
  constructor(private readonly phase: InProcessPhase) {}

  /** The error Kong's own Lua raised (Kong then answers 500), if it did. */
  get kongError(): string | undefined {
    return this.phase.ending.kind === "lua-error" ? this.phase.ending.message : undefined;
  }

  /** The plugin's kong.response.exit, as it called it, when Kong ended the request with it. */
  get exit(): { status: number; body: string; headers: Record<string, string> } | undefined {
    if (this.phase.ending.kind !== "exit") return undefined;
    const [status, body, headers] = this.calls.find(({ method }) => method === "kong.response.exit")!.args;
    return { status: status as number, body: body as string, headers: headers as Record<string, string> };
  }

  /** PDK calls with their arguments, as Kong received them (the only plugin's name left out). */
  get calls(): Omit<PdkCall, "plugin">[] {
    return this.phase.pdkCalls.map(({ method, args }) => ({ method, args }));
  }

  /** The PDK functions called, in order. */
  get pdkMethods(): string[] {
    return this.calls.map(({ method }) => method);
  }

  /** PDK calls made, logs included: under Kong each one is a socket round trip. */
  get roundTrips(): number {
    return this.calls.length;
  }

  /** The lines the plugin wrote to Kong's error log. */
  get logs(): Array<{ level: string; message: string }> {
    return this.phase.state.logs.filter(({ source }) => source === "plugin").map(({ level, message }) => ({ level, message }));
  }

  get clearedHeaders(): string[] {
    return this.calls.filter(({ method }) => method === "kong.service.request.clear_header").map(({ args }) => args[0] as string);
  }

  /** kong.ctx.shared as other plugins read it. */
  get shared(): Map<string, unknown> {
    return new Map([...this.phase.state.ctxShared].map(([key, value]) => [String(key), luaValueToMsgpack(value)]));
  }

  /** The request headers the service gets (lower-case names). */
  get upstreamHeaders(): Record<string, string[]> {
    const headers: Record<string, string[]> = {};
    for (const [name, value] of this.phase.state.headers) (headers[name.toLowerCase()] ??= []).push(value);
    return headers;
  }
}

describe("handler (PDK glue, on the driver's emulation of Kong's PDK)", () => {
  let jwks: JwksServer;
  let key: TestSigningKey;
  let baseConfig: Record<string, unknown>;

  before(async () => {
    key = await createSigningKey("RS256", "handler-key");
    jwks = await JwksServer.start([key.publicJwk]);
    baseConfig = {
      authorization_servers: [{ url: jwks.url, issuer: jwks.url, audience: MCP_RESOURCE }],
      scopes_supported: ["mcp:tools", "mcp:resources"],
      scope_method_mapping: [
        { scope: "mcp:tools", methods: ["initialize", "notifications/*", "tools/*"] },
        { scope: "mcp:resources", methods: ["resources/*"] },
      ],
    };
  });

  after(() => jwks.close());

  /**
   * Runs the handler's access phase for `request` under `config` (Kong's bookkeeping keys added),
   * its PDK calls answered in this process by the driver's Kong emulation through kong-pdk's bridge;
   * `wrapKong` may replace PDK functions to inject failures. Kong's Lua must not raise unless
   * `kongMayRaise` (a raise ends the request with Kong's own 500).
   */
  async function run(
    config: Record<string, unknown>,
    request: HandlerRequest,
    { wrapKong = (kong) => kong, kongMayRaise = false }: { wrapKong?: (kong: object) => object; kongMayRaise?: boolean } = {},
  ): Promise<HandledRequest> {
    const plugin = new McpOAuth2Plugin({ ...baseConfig, ...config, __plugin_id: "p1", __seq__: 1, __key__: "k", route_id: "r1" });
    const phase = await runAccessPhaseInProcess(
      (kong) => plugin.access(wrapKong(kong as object) as never),
      {
        method: request.method ?? "POST",
        path: request.path ?? "/mcp",
        headers: (request.headers ?? []).map(([name, value]) => [name, value]),
        body: request.body,
        ...(request.forwarded === undefined ? {} : { scheme: request.forwarded.scheme, host: request.forwarded.host, port: request.forwarded.port }),
      },
      request.clientBodyBufferSize === undefined ? {} : { clientBodyBufferSize: request.clientBodyBufferSize },
    );
    if (!kongMayRaise) expect(phase.ending, "Kong's Lua raised").not.to.have.property("kind", "lua-error");
    expect(phase.unknownPdkCalls, "PDK functions Kong does not have").to.deep.equal([]);
    return new HandledRequest(phase);
  }

  function tokenFor(scope: string, audience = MCP_RESOURCE): Promise<string> {
    return signAccessToken(key, { issuer: jwks.url, audience: [audience, "account"], claims: { sub: "alice", azp: "vscode", scope } });
  }

  /** A POST of `body` as JSON with the token, plus `extraHeaders` in order. */
  function postWith(token: string, body: string | Buffer, extraHeaders: ReadonlyArray<readonly [string, string]> = []): HandlerRequest {
    return { headers: [["Authorization", `Bearer ${token}`], ["Content-Type", "application/json"], ...extraHeaders], body };
  }

  describe("protected resource metadata (RFC 9728)", () => {
    it("serves the path-inserted document with the forwarded origin (default port omitted)", async () => {
      const fake = await run({}, { method: "GET", path: "/.well-known/oauth-protected-resource/mcp", forwarded: { scheme: "https", host: "mcp.example.com", port: 443 } });
      expect(fake.exit?.status).to.equal(200);
      expect(fake.exit?.headers).to.deep.equal({ "Content-Type": "application/json" });
      expect(JSON.parse(fake.exit!.body)).to.deep.equal({
        resource: MCP_RESOURCE,
        authorization_servers: [jwks.url],
        bearer_methods_supported: ["header"],
        scopes_supported: ["mcp:tools", "mcp:resources"],
      });
    });

    it("serves the root document as the configured resource, with resource_name, without forwarded lookups", async () => {
      const fake = await run({ resource: MCP_RESOURCE, resource_name: "Demo MCP", scopes_supported: [] }, { method: "HEAD", path: "/.well-known/oauth-protected-resource" });
      expect(JSON.parse(fake.exit!.body)).to.deep.equal({ resource: MCP_RESOURCE, authorization_servers: [jwks.url], bearer_methods_supported: ["header"], resource_name: "Demo MCP" });
      expect(fake.pdkMethods).to.deep.equal(["kong.request.get_path", "kong.request.get_method", "kong.response.exit"]);
    });

    it("answers 405 with Allow to other methods", async () => {
      const fake = await run({}, { method: "POST", path: "/.well-known/oauth-protected-resource/mcp" });
      expect(fake.exit?.status).to.equal(405);
      expect(fake.exit?.headers.Allow).to.equal("GET, HEAD");
    });

    it("treats a look-alike path as an ordinary protected request", async () => {
      const fake = await run({ resource: MCP_RESOURCE }, { method: "GET", path: "/.well-known/oauth-protected-resource-evil" });
      expect(fake.exit?.status).to.equal(401);
    });
  });

  describe("authentication", () => {
    it("answers 401 with the path-inserted resource_metadata and scopes, no error, in 3 round trips when resource is configured", async () => {
      const fake = await run({ resource: MCP_RESOURCE }, { path: "/mcp", body: formatJsonRpc("initialize") });
      expect(fake.exit).to.deep.equal({
        status: 401,
        headers: {
          "Content-Type": "application/json",
          "WWW-Authenticate": `Bearer scope="mcp:tools mcp:resources", resource_metadata="${MCP_METADATA_URL}"`,
        },
        body: JSON.stringify({ error: "unauthorized", error_description: "no bearer token in the request" }),
      });
      expect(fake.roundTrips).to.equal(3);
    });

    it("builds resource_metadata from Kong's forwarded scheme, host and port when resource is not configured", async () => {
      const fake = await run({}, { path: "/mcp", forwarded: { scheme: "http", host: "127.0.0.1", port: 8000 }, headers: [["Authorization", "Basic dXNlcjpwYXNz"]] });
      expect(fake.exit?.headers["WWW-Authenticate"]).to.equal(
        'Bearer scope="mcp:tools mcp:resources", resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"',
      );
      expect(fake.roundTrips).to.equal(6);
    });

    it("answers 400 invalid_request to a token header sent twice and to a malformed Bearer credential", async () => {
      const token = await tokenFor("mcp:tools");
      for (const headers of [[["Authorization", `Bearer ${token}`], ["authorization", `Bearer ${token}`]], [["Authorization", `Bearer\t${token}`]]] as const) {
        const fake = await run({ resource: MCP_RESOURCE }, { headers });
        expect(fake.exit?.status).to.equal(400);
        expect(fake.exit?.headers["WWW-Authenticate"]).to.match(/^Bearer error="invalid_request", error_description="[^"]+", resource_metadata="https:\/\/mcp.example.com\/.well-known\/oauth-protected-resource\/mcp"$/);
      }
    });

    it("answers 400 invalid_request to a request with 1000 header fields or more: Kong hands over no more, a second token could hide", async () => {
      const token = await tokenFor("mcp:tools");
      const padding = Array.from({ length: 999 }, (_, index): [string, string] => [`X-Pad-${index}`, "x"]);
      const fake = await run({ resource: MCP_RESOURCE }, { headers: [["Authorization", `Bearer ${token}`], ...padding] });
      expect(fake.exit?.status).to.equal(400);
      expect(JSON.parse(fake.exit!.body)).to.deep.equal({ error: "invalid_request", error_description: "the request has too many header fields" });
      const fewer = await run({ resource: MCP_RESOURCE }, { headers: [["Authorization", `Bearer ${token}`], ...padding.slice(1)] });
      expect(fewer.exit).to.equal(undefined);
    });

    it("answers 401 invalid_token for a wrong audience and logs the mismatch for the operator, never the token", async () => {
      const token = await tokenFor("mcp:tools", "account");
      const fake = await run({ resource: MCP_RESOURCE }, { headers: [["Authorization", `Bearer ${token}`]] });
      expect(fake.exit?.status).to.equal(401);
      expect(fake.exit?.headers["WWW-Authenticate"]).to.equal(
        `Bearer error="invalid_token", error_description="the token is not meant for this resource (audience)", scope="mcp:tools mcp:resources", resource_metadata="${MCP_METADATA_URL}"`,
      );
      expect(fake.logs).to.deep.equal([{ level: "warn", message: `mcp-oauth2: 401 on /mcp: audience mismatch: expected "${MCP_RESOURCE}", got ["account","account"]` }]);
      expect(JSON.stringify(fake.calls)).not.to.contain(token);
    });

    it("lets a valid token through with the header stripped and the identity shared, in 4 round trips with the ACL off", async () => {
      const token = await tokenFor("mcp:tools");
      await run({}, { headers: [["Authorization", `Bearer ${token}`]] });
      const fake = await run({}, { headers: [["Authorization", `Bearer ${token}`]] });
      expect(fake.exit).to.equal(undefined);
      expect(fake.clearedHeaders).to.deep.equal(["Authorization"]);
      expect(fake.shared.get("mcp_oauth2")).to.deep.equal({ subject: "alice", issuer: jwks.url, client_id: "vscode", scopes: ["mcp:tools"] });
      expect(fake.pdkMethods).to.deep.equal([
        "kong.request.get_path",
        "kong.request.get_headers",
        "kong.service.request.clear_header",
        "kong.ctx.shared.set",
      ]);
      expect(fake.calls[1].args).to.deep.equal([1000]);
    });

    it("keeps the header when forward_authorization_header is on, and reads a custom header_name", async () => {
      const token = await tokenFor("mcp:tools");
      const fake = await run({ header_name: "X-MCP-Token", forward_authorization_header: true }, { headers: [["x-mcp-token", `bearer ${token}`]] });
      expect(fake.exit).to.equal(undefined);
      expect(fake.clearedHeaders).to.deep.equal([]);
    });

    it("answers 503 with Retry-After when the JWKS is down and no key is cached", async () => {
      const fake = await run(
        { authorization_servers: [{ url: "http://127.0.0.1:9", audience: MCP_RESOURCE }], jwks_refetch_cooldown: 7 },
        { headers: [["Authorization", `Bearer ${await signAccessToken(key, { issuer: "http://127.0.0.1:9", audience: MCP_RESOURCE })}`]] },
      );
      expect(fake.exit?.status).to.equal(503);
      expect(fake.exit?.headers["Retry-After"]).to.equal("7");
      expect(JSON.parse(fake.exit!.body).error).to.equal("temporarily_unavailable");
      expect(fake.logs[0].level).to.equal("err");
      expect(fake.logs[0].message).to.contain("JWKS http://127.0.0.1:9/.well-known/jwks.json");
    });
  });

  describe("ACL", () => {
    it("allows a permitted tools/call in 5 round trips", async () => {
      const token = await tokenFor("mcp:tools");
      const request = postWith(token, formatJsonRpc("tools/call", { name: "weather_forecast" }));
      await run({ enable_acl: true }, request);
      const fake = await run({ enable_acl: true }, request);
      expect(fake.exit).to.equal(undefined);
      expect(fake.pdkMethods).to.deep.equal([
        "kong.request.get_path",
        "kong.request.get_headers",
        "kong.request.get_raw_body",
        "kong.service.request.clear_header",
        "kong.ctx.shared.set",
      ]);
      expect(fake.calls[2].args).to.deep.equal([1048576]);
    });

    it("answers 403 insufficient_scope naming the narrowest scope plus the scopes held", async () => {
      const token = await tokenFor("mcp:tools");
      const fake = await run({ enable_acl: true, resource: MCP_RESOURCE }, postWith(token, formatJsonRpc("resources/read", { uri: "docs://readme" })));
      expect(fake.exit?.status).to.equal(403);
      expect(fake.exit?.headers["WWW-Authenticate"]).to.equal(
        `Bearer error="insufficient_scope", error_description="the token's scopes do not allow resources/read docs://readme", scope="mcp:resources mcp:tools", resource_metadata="${MCP_METADATA_URL}"`,
      );
      expect(JSON.parse(fake.exit!.body)).to.deep.equal({
        error: "insufficient_scope",
        error_description: "the token's scopes do not allow resources/read docs://readme",
        scope: "mcp:resources mcp:tools",
      });
      expect(fake.logs.map((log) => log.level)).to.deep.equal(["notice"]);
    });

    it("cuts a long client-chosen item name short in the 403 and the log instead of echoing it", async () => {
      const token = await tokenFor("mcp:tools");
      const uri = `docs://${"x".repeat(10_000)}`;
      const fake = await run({ enable_acl: true, resource: MCP_RESOURCE }, postWith(token, formatJsonRpc("resources/read", { uri })));
      expect(fake.exit?.status).to.equal(403);
      const shortened = `resources/read docs://${"x".repeat(75)}...`;
      expect(JSON.parse(fake.exit!.body).error_description).to.equal(`the token's scopes do not allow ${shortened}`);
      expect(fake.logs[0].message).to.contain(`insufficient scope for ${shortened}:`);
      expect(fake.logs[0].message.length).to.be.below(400);
    });

    it("refuses every request, GET included, when the mapping is empty", async () => {
      const token = await tokenFor("mcp:tools");
      const fake = await run({ enable_acl: true, scope_method_mapping: [], resource: MCP_RESOURCE }, { method: "GET", headers: [["Authorization", `Bearer ${token}`]] });
      expect(fake.exit?.status).to.equal(403);
      expect(fake.exit?.headers["WWW-Authenticate"]).not.to.contain("scope=");
    });

    it("allows a bodiless GET for a token holding a mapped scope, and refuses an empty POST or other method that should carry a body", async () => {
      const token = await tokenFor("mcp:resources");
      const get = await run({ enable_acl: true }, { method: "GET", headers: [["Authorization", `Bearer ${token}`]] });
      expect(get.exit).to.equal(undefined);
      const unknown = await run({ enable_acl: true }, { method: "PROPFIND", headers: [["Authorization", `Bearer ${token}`]] });
      expect(unknown.exit?.status).to.equal(400);
      const post = await run({ enable_acl: true }, { method: "POST", headers: [["Authorization", `Bearer ${token}`]] });
      expect(post.exit?.status).to.equal(400);
      expect(JSON.parse(post.exit!.body)).to.deep.equal({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "the request has no JSON-RPC body" } });
    });

    it("answers 413 from Content-Length without reading the body; without it, Kong itself fails on a file-buffered body too large to hand over", async () => {
      const token = await tokenFor("mcp:tools");
      const declared = await run({ enable_acl: true, max_body_size: 100 }, { headers: [["Authorization", `Bearer ${token}`], ["Content-Length", "101"]] });
      expect(declared.exit?.status).to.equal(413);
      expect(declared.pdkMethods).not.to.include("kong.request.get_raw_body");
      const chunked = await run(
        { enable_acl: true, max_body_size: 100 },
        { headers: [["Authorization", `Bearer ${token}`], ["Content-Type", "application/json"]], body: Buffer.alloc(9000, 0x20), clientBodyBufferSize: 8192 },
        { kongMayRaise: true },
      );
      // get_raw_body(100) gives nil for the spooled body and Kong's bridge cannot pack nil: Kong answers 500, still a refusal.
      expect(chunked.exit).to.equal(undefined);
      expect(chunked.kongError).to.equal("attempt to get length of local 'str' (a nil value)");
      expect(chunked.calls.at(-1)).to.deep.equal({ method: "kong.request.get_raw_body", args: [100] });
    });

    it("answers 415 to a body that is not JSON", async () => {
      const token = await tokenFor("mcp:tools");
      const fake = await run({ enable_acl: true }, { headers: [["Authorization", `Bearer ${token}`], ["Content-Type", "text/plain"]], body: formatJsonRpc("tools/list") });
      expect(fake.exit?.status).to.equal(415);
    });
  });

  describe("step-up friendly 401 scope (least privilege for the calls in the body)", () => {
    const challengeOf = async (config: Record<string, unknown>, request: HandlerRequest) => (await run({ resource: MCP_RESOURCE, ...config }, request)).exit?.headers["WWW-Authenticate"];
    /** A JSON body with its Content-Length: only a declared length small enough gets read for a 401. */
    const declared = (body: string | Buffer): HandlerRequest => ({ headers: [["Content-Type", "application/json"], ["Content-Length", String(Buffer.byteLength(body))]], body });

    it("asks for the narrowest scope of the calls with the ACL on, in 4 round trips", async () => {
      const fake = await run({ enable_acl: true, resource: MCP_RESOURCE }, declared(formatJsonRpc("tools/call", { name: "weather" })));
      expect(fake.exit).to.deep.equal({
        status: 401,
        headers: { "Content-Type": "application/json", "WWW-Authenticate": `Bearer scope="mcp:tools", resource_metadata="${MCP_METADATA_URL}"` },
        body: JSON.stringify({ error: "unauthorized", error_description: "no bearer token in the request" }),
      });
      expect(fake.pdkMethods).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.request.get_raw_body", "kong.response.exit"]);
      const batch = Buffer.from(JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "initialize" }, { jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri: "docs://a" } }]));
      expect(await challengeOf({ enable_acl: true }, declared(batch))).to.equal(`Bearer scope="mcp:resources", resource_metadata="${MCP_METADATA_URL}"`);
    });

    it("asks for scopes_supported for the lifecycle, GET, unreadable or undeclared bodies and calls no scope allows", async () => {
      const usual = `Bearer scope="mcp:tools mcp:resources", resource_metadata="${MCP_METADATA_URL}"`;
      for (const method of ["initialize", "ping", "notifications/initialized", "server/discover", "subscriptions/listen", "prompts/get"]) {
        expect(await challengeOf({ enable_acl: true }, declared(formatJsonRpc(method))), method).to.equal(usual);
      }
      const toolCall = formatJsonRpc("tools/call", { name: "weather" });
      expect(await challengeOf({ enable_acl: true }, { headers: [["Content-Type", "text/plain"], ["Content-Length", String(toolCall.length)]], body: toolCall })).to.equal(usual);
      expect(await challengeOf({ enable_acl: true }, declared(Buffer.from("{not json")))).to.equal(usual);
      const undeclared = await run({ enable_acl: true, resource: MCP_RESOURCE }, { headers: [["Content-Type", "application/json"]], body: toolCall });
      expect(undeclared.exit?.headers["WWW-Authenticate"]).to.equal(usual);
      expect(undeclared.pdkMethods).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.response.exit"]);
      const get = await run({ enable_acl: true, resource: MCP_RESOURCE }, { method: "GET" });
      expect(get.exit?.headers["WWW-Authenticate"]).to.equal(usual);
      expect(get.pdkMethods).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.response.exit"]);
    });

    it("asks for scopes_supported for a session method, which any mapped scope allows", async () => {
      const config = { enable_acl: true, session_methods: ["initialize", "tools/list"] };
      expect(await challengeOf(config, declared(formatJsonRpc("tools/list")))).to.equal(`Bearer scope="mcp:tools mcp:resources", resource_metadata="${MCP_METADATA_URL}"`);
      expect(await challengeOf({ enable_acl: true }, declared(formatJsonRpc("tools/list")))).to.equal(`Bearer scope="mcp:tools", resource_metadata="${MCP_METADATA_URL}"`);
    });

    it("asks for scopes_supported with the ACL off, without reading the body", async () => {
      const fake = await run({ resource: MCP_RESOURCE }, { headers: [["Content-Type", "application/json"]], body: formatJsonRpc("tools/call", { name: "weather" }) });
      expect(fake.exit?.headers["WWW-Authenticate"]).to.equal(`Bearer scope="mcp:tools mcp:resources", resource_metadata="${MCP_METADATA_URL}"`);
      expect(fake.pdkMethods).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.response.exit"]);
    });

    it("asks for the narrowest scope with an invalid token too", async () => {
      const expired = await signAccessToken(key, { issuer: jwks.url, audience: MCP_RESOURCE, expiresIn: -3600, claims: { scope: "mcp:tools" } });
      const body = formatJsonRpc("resources/read", { uri: "docs://a" });
      expect(await challengeOf({ enable_acl: true }, postWith(expired, body, [["Content-Length", String(body.length)]]))).to.equal(
        `Bearer error="invalid_token", error_description="the token has expired", scope="mcp:resources", resource_metadata="${MCP_METADATA_URL}"`,
      );
    });
  });

  describe("scope_hierarchy", () => {
    const hierarchy = [
      { scope: "mcp:admin", implies: ["mcp:tools", "mcp:resources"] },
      { scope: "mcp:editor", implies: ["mcp:tools"] },
    ];

    it("lets a broader scope through where an implied one is needed", async () => {
      const fake = await run({ enable_acl: true, scope_hierarchy: hierarchy }, postWith(await tokenFor("mcp:admin"), formatJsonRpc("resources/read", { uri: "docs://a" })));
      expect(fake.exit).to.equal(undefined);
      expect(fake.shared.get("mcp_oauth2")).to.deep.equal({ subject: "alice", issuer: jwks.url, client_id: "vscode", scopes: ["mcp:admin"] });
    });

    it("keeps the held broader scope in the 403 step-up challenge", async () => {
      const fake = await run({ enable_acl: true, scope_hierarchy: hierarchy, resource: MCP_RESOURCE }, postWith(await tokenFor("openid mcp:editor"), formatJsonRpc("resources/read", { uri: "docs://a" })));
      expect(fake.exit?.status).to.equal(403);
      expect(fake.exit?.headers["WWW-Authenticate"]).to.equal(
        `Bearer error="insufficient_scope", error_description="the token's scopes do not allow resources/read docs://a", scope="mcp:resources mcp:editor", resource_metadata="${MCP_METADATA_URL}"`,
      );
    });
  });

  describe("acl_mode dry_run", () => {
    it("lets a denied call through with one notice naming what it would refuse", async () => {
      const token = await tokenFor("mcp:tools");
      const fake = await run({ enable_acl: true, acl_mode: "dry_run", resource: MCP_RESOURCE }, postWith(token, formatJsonRpc("resources/read", { uri: "docs://readme" })));
      expect(fake.exit).to.equal(undefined);
      expect(fake.logs).to.deep.equal([
        {
          level: "notice",
          message: "mcp-oauth2: dry run: would refuse 403 on /mcp: insufficient scope for resources/read docs://readme: token of alice holds [mcp:tools], would need [mcp:resources mcp:tools]",
        },
      ]);
      expect(fake.calls).to.deep.equal([
        { method: "kong.request.get_path", args: [] },
        { method: "kong.request.get_headers", args: [1000] },
        { method: "kong.request.get_raw_body", args: [1048576] },
        { method: "kong.log.notice", args: [fake.logs[0].message] },
        { method: "kong.service.request.clear_header", args: ["Authorization"] },
        { method: "kong.ctx.shared.set", args: ["mcp_oauth2", { subject: "alice", issuer: jwks.url, client_id: "vscode", scopes: ["mcp:tools"] }] },
      ]);
    });

    it("logs nothing for an allowed call", async () => {
      const fake = await run({ enable_acl: true, acl_mode: "dry_run" }, postWith(await tokenFor("mcp:tools"), formatJsonRpc("tools/list")));
      expect(fake.exit).to.equal(undefined);
      expect(fake.logs).to.deep.equal([]);
    });

    it("escapes control characters of client-chosen names in the log line", async () => {
      const fake = await run({ enable_acl: true, acl_mode: "dry_run" }, postWith(await tokenFor("mcp:resources"), formatJsonRpc("tools/call", { name: "evil\n2026/01/01 [crit] forged\u0000" })));
      expect(fake.exit).to.equal(undefined);
      expect(fake.logs).to.deep.equal([
        {
          level: "notice",
          message:
            "mcp-oauth2: dry run: would refuse 403 on /mcp: insufficient scope for tools/call evil\\x0a2026/01/01 [crit] forged\\x00: token of alice holds [mcp:resources], would need [mcp:tools mcp:resources]",
        },
      ]);
    });

    it("still requires a valid token and still refuses bodies it cannot judge", async () => {
      const config = { enable_acl: true, acl_mode: "dry_run", max_body_size: 200 };
      expect((await run(config, { headers: [["Content-Type", "application/json"]], body: formatJsonRpc("tools/list") })).exit?.status).to.equal(401);
      const token = await tokenFor("mcp:tools");
      expect((await run(config, { headers: [["Authorization", `Bearer ${token}`], ["Content-Type", "text/plain"]], body: formatJsonRpc("tools/list") })).exit?.status).to.equal(415);
      expect((await run(config, postWith(token, Buffer.alloc(201, 0x20)))).exit?.status).to.equal(413);
      expect((await run(config, postWith(token, Buffer.from("[]")))).exit?.status).to.equal(400);
      expect((await run(config, postWith(token, formatJsonRpc("tools/list"), [["Mcp-Method", "tools/call"]]))).exit?.status).to.equal(400);
    });
  });

  describe("upstream_headers", () => {
    const upstream_headers = [
      { header: "X-MCP-Subject", claim: "sub" },
      { header: "X-MCP-Client", claim: "azp" },
      { header: "X-MCP-Email", claim: "email" },
      { header: "X-MCP-Roles", claim: "realm_access.roles" },
    ];

    it("sets each header from its claim and clears those whose claim is absent, replacing what the client sent", async () => {
      const token = await signAccessToken(key, { issuer: jwks.url, audience: MCP_RESOURCE, claims: { sub: "alice", azp: "vscode", realm_access: { roles: ["mcp:tools", "mcp:resources"] } } });
      const fake = await run(
        { upstream_headers },
        { headers: [["Authorization", `Bearer ${token}`], ["X-MCP-Subject", "admin"], ["x-mcp-subject", "root"], ["X-MCP-Email", "root@example.com"], ["Accept", "text/event-stream"]] },
      );
      expect(fake.exit).to.equal(undefined);
      expect(fake.calls.slice(2)).to.deep.equal([
        { method: "kong.service.request.clear_header", args: ["Authorization"] },
        { method: "kong.service.request.clear_header", args: ["X-MCP-Email"] },
        { method: "kong.service.request.set_header", args: ["X-MCP-Subject", "alice"] },
        { method: "kong.service.request.set_header", args: ["X-MCP-Client", "vscode"] },
        { method: "kong.service.request.set_header", args: ["X-MCP-Roles", "mcp:tools, mcp:resources"] },
        { method: "kong.ctx.shared.set", args: ["mcp_oauth2", { subject: "alice", issuer: jwks.url, client_id: "vscode", scopes: [] }] },
      ]);
      expect(fake.upstreamHeaders).to.deep.equal({
        "x-mcp-subject": ["alice"],
        accept: ["text/event-stream"],
        "x-mcp-client": ["vscode"],
        "x-mcp-roles": ["mcp:tools, mcp:resources"],
      });
    });

    it("sets the same headers when the verdict comes from the token cache", async () => {
      const token = await signAccessToken(key, { issuer: jwks.url, audience: MCP_RESOURCE, claims: { sub: "carol", azp: "cli", email: "carol@example.com" } });
      await run({ upstream_headers }, { headers: [["Authorization", `Bearer ${token}`]] });
      const cached = await run({ upstream_headers }, { headers: [["Authorization", `Bearer ${token}`]] });
      expect(cached.upstreamHeaders).to.deep.equal({ "x-mcp-subject": ["carol"], "x-mcp-client": ["cli"], "x-mcp-email": ["carol@example.com"] });
    });

    it("answers 401 invalid_token when a claim holds control characters", async () => {
      const token = await signAccessToken(key, { issuer: jwks.url, audience: MCP_RESOURCE, claims: { sub: "alice\r\nX-Admin: true" } });
      const fake = await run({ upstream_headers, resource: MCP_RESOURCE }, { headers: [["Authorization", `Bearer ${token}`]] });
      expect(fake.exit).to.deep.equal({
        status: 401,
        headers: {
          "Content-Type": "application/json",
          "WWW-Authenticate": `Bearer error="invalid_token", error_description="a token claim cannot be passed to the upstream", scope="mcp:tools mcp:resources", resource_metadata="${MCP_METADATA_URL}"`,
        },
        body: JSON.stringify({ error: "invalid_token", error_description: "a token claim cannot be passed to the upstream" }),
      });
      expect(fake.logs).to.deep.equal([{ level: "warn", message: "mcp-oauth2: 401 on /mcp: claim sub holds control characters" }]);
      expect(fake.pdkMethods).not.to.include("kong.service.request.set_header");
    });
  });

  describe("keycloak_compat", () => {
    const keycloakToken = (claims: Record<string, unknown>, audience: string | string[] = [MCP_RESOURCE, "account"]) =>
      signAccessToken(key, { issuer: jwks.url, audience, claims: { typ: "Bearer", sub: "alice", azp: "vscode", scope: "openid", ...claims } });

    it("refuses an ID token with 401 invalid_token", async () => {
      const idToken = await keycloakToken({ typ: "ID", nonce: "n-1" }, "vscode");
      const fake = await run({ keycloak_compat: true, resource: MCP_RESOURCE }, { headers: [["Authorization", `Bearer ${idToken}`]] });
      expect(fake.exit?.status).to.equal(401);
      expect(fake.exit?.headers["WWW-Authenticate"]).to.equal(
        `Bearer error="invalid_token", error_description="the token is not a Keycloak access token", scope="mcp:tools mcp:resources", resource_metadata="${MCP_METADATA_URL}"`,
      );
      expect(fake.logs).to.deep.equal([{ level: "warn", message: 'mcp-oauth2: 401 on /mcp: Keycloak token typ "ID", expected "Bearer"' }]);
    });

    it("refuses a token for the account audience only", async () => {
      const fake = await run({ keycloak_compat: true, resource: MCP_RESOURCE }, { headers: [["Authorization", `Bearer ${await keycloakToken({}, "account")}`]] });
      expect(fake.exit?.headers["WWW-Authenticate"]).to.equal(
        `Bearer error="invalid_token", error_description="the token is not meant for this resource (audience)", scope="mcp:tools mcp:resources", resource_metadata="${MCP_METADATA_URL}"`,
      );
      expect(fake.logs).to.deep.equal([
        { level: "warn", message: "mcp-oauth2: 401 on /mcp: Keycloak token for the account audience only: add an Audience mapper to the client scope" },
      ]);
    });

    it("grants realm roles like scopes", async () => {
      const token = await keycloakToken({ realm_access: { roles: ["mcp:resources", "default-roles-mcp"] } });
      const granted = await run({ keycloak_compat: true, enable_acl: true }, postWith(token, formatJsonRpc("resources/read", { uri: "docs://a" })));
      expect(granted.exit).to.equal(undefined);
      expect(granted.shared.get("mcp_oauth2")).to.deep.equal({ subject: "alice", issuer: jwks.url, client_id: "vscode", scopes: ["openid", "mcp:resources", "default-roles-mcp"] });
      const withoutPreset = await run({ enable_acl: true }, postWith(token, formatJsonRpc("resources/read", { uri: "docs://a" })));
      expect(withoutPreset.exit?.status).to.equal(403);
    });
  });

  describe("MCP standard headers (Mcp-Method, Mcp-Name)", () => {
    it("answers 400 with a JSON-RPC HeaderMismatch error when Mcp-Name disagrees with the body, ACL off", async () => {
      const token = await tokenFor("mcp:tools");
      const fake = await run({}, postWith(token, formatJsonRpc("tools/call", { name: "delete_everything" }), [["Mcp-Method", "tools/call"], ["Mcp-Name", "get_weather"]]));
      expect(fake.exit).to.deep.equal({
        status: 400,
        headers: { "Content-Type": "application/json" },
        body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32020,"message":"Mcp-Name does not match params.name in the body"}}',
      });
      // A client error after the token was verified: one notice, naming the token's holder.
      expect(fake.pdkMethods).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.request.get_raw_body", "kong.log.notice", "kong.response.exit"]);
      expect(fake.logs).to.deep.equal([{ level: "notice", message: "mcp-oauth2: 400 on /mcp: Mcp-Name does not match params.name in the body (token of alice)" }]);
    });

    it("answers 400 when Mcp-Method disagrees, with the ACL on and a token that allows both methods", async () => {
      const fake = await run({ enable_acl: true }, postWith(await tokenFor("mcp:tools"), formatJsonRpc("tools/call", { name: "a" }), [["Mcp-Method", "tools/list"]]));
      expect(fake.exit?.status).to.equal(400);
      expect(JSON.parse(fake.exit!.body)).to.deep.equal({ jsonrpc: "2.0", id: null, error: { code: -32020, message: "Mcp-Method does not match the method in the body" } });
    });

    it("answers 400 to standard headers on a batch", async () => {
      const batch = Buffer.from(JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "tools/list" }]));
      const fake = await run({}, postWith(await tokenFor("mcp:tools"), batch, [["Mcp-Method", "tools/list"]]));
      expect(JSON.parse(fake.exit!.body)).to.deep.equal({
        jsonrpc: "2.0",
        id: null,
        error: { code: -32020, message: "Mcp-Method and Mcp-Name describe one JSON-RPC request, not a batch or a response" },
      });
    });

    it("lets matching headers through, reading the body once with the ACL off", async () => {
      const name = Buffer.from("météo").toString("base64");
      const fake = await run({}, postWith(await tokenFor("mcp:tools"), formatJsonRpc("tools/call", { name: "météo" }), [["Mcp-Method", "tools/call"], ["Mcp-Name", `=?base64?${name}?=`]]));
      expect(fake.exit).to.equal(undefined);
      expect(fake.pdkMethods).to.deep.equal([
        "kong.request.get_path",
        "kong.request.get_headers",
        "kong.request.get_raw_body",
        "kong.service.request.clear_header",
        "kong.ctx.shared.set",
      ]);
    });

    it("authenticates before it judges the headers", async () => {
      const fake = await run({ resource: MCP_RESOURCE }, { headers: [["Mcp-Method", "tools/list"], ["Content-Type", "application/json"]], body: formatJsonRpc("tools/call", { name: "a" }) });
      expect(fake.exit?.status).to.equal(401);
    });
  });

  describe("PDK answers in the other shapes kong-pdk allows", () => {
    // Kong 3.9's bridge hands every header value as a list and the raw body as bytes; kong-pdk also
    // types a header value as a single string and the body as text. Both must read alike.
    const singleStringsAndTextBody = (kong: object) =>
      new Proxy(kong, {
        get: (target, name) => {
          if (name !== "request") return Reflect.get(target, name);
          const request = Reflect.get(target, name) as Record<string, (...args: unknown[]) => Promise<unknown>>;
          return new Proxy(request, {
            get: (pdk, method) => {
              if (method === "get_headers") {
                return async (max: number) => {
                  const headers = (await pdk.get_headers(max)) as Record<string, string[]>;
                  return Object.fromEntries(Object.entries(headers).map(([header, values]) => [header, values.length === 1 ? values[0] : values]));
                };
              }
              if (method === "get_raw_body") return async (max: number) => Buffer.from((await pdk.get_raw_body(max)) as Uint8Array).toString("utf8");
              return Reflect.get(pdk, method);
            },
          });
        },
      });

    it("decides on single-string header values and a text body as on lists and bytes", async () => {
      const token = await tokenFor("mcp:tools");
      const allowed = await run({ enable_acl: true }, postWith(token, formatJsonRpc("tools/call", { name: "météo" })), { wrapKong: singleStringsAndTextBody });
      expect(allowed.exit).to.equal(undefined);
      expect(allowed.clearedHeaders).to.deep.equal(["Authorization"]);
      const denied = await run({ enable_acl: true }, postWith(token, formatJsonRpc("resources/read", { uri: "file:///météo" })), { wrapKong: singleStringsAndTextBody });
      expect(denied.exit?.status).to.equal(403);
      expect(denied.exit?.headers["WWW-Authenticate"]).to.contain('error="insufficient_scope"');
      const twice = await run({ enable_acl: true }, postWith(token, formatJsonRpc("tools/list"), [["Authorization", `Bearer ${token}`]]), { wrapKong: singleStringsAndTextBody });
      expect(twice.exit?.status).to.equal(400);
    });
  });

  describe("fail closed", () => {
    it("answers 500 and logs when the configuration is invalid", async () => {
      const fake = await run({ authorization_servers: [] }, { headers: [] });
      expect(fake.exit).to.deep.equal({
        status: 500,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ error: "server_error", error_description: "the gateway's mcp-oauth2 configuration is invalid" }),
      });
      expect(fake.logs).to.deep.equal([{ level: "err", message: "mcp-oauth2: invalid configuration: authorization_servers: needs at least one authorization server" }]);
    });

    it("answers 500 when a PDK call fails instead of letting the request through", async () => {
      const fake = await run({}, {}, {
        wrapKong: (kong) =>
          new Proxy(kong, {
            get: (target, name) => (name === "request" ? { get_path: () => Promise.reject(new Error("PDK method kong.request.get_path failed")) } : Reflect.get(target, name)),
          }),
      });
      expect(fake.exit?.status).to.equal(500);
      expect(JSON.parse(fake.exit!.body).error).to.equal("server_error");
    });

    it("refuses with 500 and one escaped log line when carrying out an admission fails", async () => {
      const fake = await run({}, postWith(await tokenFor("mcp:tools"), formatJsonRpc("tools/list")), {
        wrapKong: (kong) =>
          new Proxy(kong, {
            get: (target, name) => (name === "ctx" ? { shared: { set: () => Promise.reject(new Error("kong.ctx.shared.set failed\nsecond line")) } } : Reflect.get(target, name)),
          }),
      });
      expect(fake.exit).to.deep.equal({
        status: 500,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ error: "server_error", error_description: "the gateway could not decide on this request" }),
      });
      expect(fake.logs).to.have.length(1);
      expect(fake.logs[0]!.level).to.equal("err");
      expect(fake.logs[0]!.message).to.match(/^mcp-oauth2: unexpected error: Error: kong\.ctx\.shared\.set failed\\x0asecond line\\x0a {4}at /);
      expect(fake.logs[0]!.message).to.not.match(/[\x00-\x1f]/);
    });

    it("lets a CORS preflight through without a token only when run_on_preflight is off", async () => {
      const open = await run({ run_on_preflight: false }, { method: "OPTIONS" });
      expect(open.exit).to.equal(undefined);
      expect(open.shared.get("mcp_oauth2")).to.deep.equal({ preflight: true });
      const closed = await run({}, { method: "OPTIONS" });
      expect(closed.exit?.status).to.equal(401);
    });
  });
});
