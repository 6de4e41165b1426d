import { expect } from "chai";
import { SchemaViolationError, type HeaderList, type Outcome } from "../../../kong/driver";
import {
  expectProxied,
  findHeaderValues,
  formatJsonRpc,
  jsonAnswerHeaders,
  listPdkMethods,
  postToMcp,
  readAnswer,
  routeThroughGate,
  sendThroughGate,
  sendToolsList,
  startGateFixture,
  type GateFixture,
} from "../../support/gate-requests";
import { PLUGIN_SERVER_IMPLEMENTATIONS } from "../../support/plugin-server-fixture";

const TOOLS_AND_RESOURCES = [
  { scope: "mcp:tools", methods: ["initialize", "notifications/*", "tools/*"] },
  { scope: "mcp:resources", methods: ["resources/*"] },
];

/** SEP-2243 HeaderMismatch, as a JSON-RPC error without an id. */
function headerMismatchAnswer(message: string) {
  const body = { jsonrpc: "2.0", id: null, error: { code: -32020, message } };
  return { status: 400, headers: jsonAnswerHeaders(body), body };
}

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`mcp-oauth2 options: dry run, MCP standard headers, Keycloak preset, preflight (${implementation} plugin server)`, () => {
    let fixture: GateFixture;
    let issueToken: GateFixture["issueToken"];
    let baseConfig: Readonly<Record<string, unknown>>;

    before(async () => {
      fixture = await startGateFixture(implementation, { tokens: { claims: { sub: "alice", scope: "mcp:tools" } } });
      ({ issueToken, baseConfig } = fixture);
    });
    after(() => fixture?.close());

    async function post(config: Record<string, unknown>, token: string | undefined, body: string, headers: HeaderList = []): Promise<Outcome> {
      routeThroughGate(fixture.driver, { ...baseConfig, ...config });
      return sendThroughGate(fixture.driver, postToMcp(token, body, headers));
    }

    describe("acl_mode dry_run: denials are logged, not enforced; tokens still are", () => {
      const dryRun = { enable_acl: true, acl_mode: "dry_run", scope_method_mapping: TOOLS_AND_RESOURCES };

      it("lets a denied call through with one notice naming what it would need", async () => {
        const outcome = expectProxied(await post(dryRun, await issueToken(), formatJsonRpc("resources/read", { uri: "docs://readme" })));
        expect(outcome.logs.map(({ level, message }) => [level, message])).to.deep.equal([
          ["notice", "mcp-oauth2: dry run: would refuse 403 on /mcp: insufficient scope for resources/read docs://readme: token of alice holds [mcp:tools], would need [mcp:resources mcp:tools]"],
        ]);
        expect(listPdkMethods(outcome)).to.deep.equal([
          "kong.request.get_path",
          "kong.request.get_headers",
          "kong.request.get_raw_body",
          "kong.log.notice",
          "kong.service.request.clear_header",
          "kong.ctx.shared.set",
        ]);
      });

      it("logs nothing for an allowed call", async () => {
        expect(expectProxied(await post(dryRun, await issueToken(), formatJsonRpc("tools/list"))).logs).to.deep.equal([]);
      });

      it("still refuses requests without a valid token, and bodies it cannot read", async () => {
        expect(readAnswer(await post(dryRun, undefined, formatJsonRpc("tools/list"))).status).to.equal(401);
        expect(readAnswer(await post(dryRun, await issueToken({ expiresIn: -600 }), formatJsonRpc("tools/list"))).status).to.equal(401);
        expect(readAnswer(await post(dryRun, await issueToken(), "{not json")).status).to.equal(400);
      });
    });

    describe("MCP 2026-07-28 Mcp-Method and Mcp-Name, checked against the body even with the ACL off", () => {
      const toolCall = formatJsonRpc("tools/call", { name: "weather_current", arguments: { city: "Lisbon" } });

      it("lets matching headers through, reading the body once", async () => {
        const outcome = expectProxied(await post({}, await issueToken(), toolCall, [["Mcp-Method", "tools/call"], ["Mcp-Name", "weather_current"]]));
        expect(listPdkMethods(outcome)).to.deep.equal([
          "kong.request.get_path",
          "kong.request.get_headers",
          "kong.request.get_raw_body",
          "kong.service.request.clear_header",
          "kong.ctx.shared.set",
        ]);
        expect(findHeaderValues(outcome.upstreamRequest.headers, "Mcp-Name")).to.deep.equal(["weather_current"]);
      });

      it("accepts a Base64-encoded Mcp-Name", async () => {
        const encoded = `=?base64?${Buffer.from("weather_current").toString("base64")}?=`;
        expectProxied(await post({}, await issueToken(), toolCall, [["Mcp-Method", "tools/call"], ["Mcp-Name", encoded]]));
      });

      it("answers 400 HeaderMismatch when a header disagrees with the body", async () => {
        const token = await issueToken();
        const mismatches: Array<[HeaderList, string]> = [
          [[["Mcp-Method", "tools/call"], ["Mcp-Name", "admin_clear_cache"]], "Mcp-Name does not match params.name in the body"],
          [[["Mcp-Method", "tools/list"]], "Mcp-Method does not match the method in the body"],
          [[["Mcp-Method", "tools/call"]], "Mcp-Name is required with Mcp-Method tools/call"],
          [[["Mcp-Method", "tools/call"], ["Mcp-Method", "tools/call"], ["Mcp-Name", "weather_current"]], "Mcp-Method and Mcp-Name must be sent once"],
        ];
        for (const [headers, message] of mismatches) {
          expect(readAnswer(await post({}, token, toolCall, headers)), message).to.deep.equal(headerMismatchAnswer(message));
        }
      });

      it("answers 400 HeaderMismatch to a bodiless GET naming a tool: nothing would run, but it would be metered", async () => {
        routeThroughGate(fixture.driver, baseConfig);
        const get = { ...postToMcp(await issueToken(), "", [["Mcp-Method", "tools/call"], ["Mcp-Name", "admin_clear_cache"]]), method: "GET" };
        const message = "Mcp-Method and Mcp-Name describe a JSON-RPC request, and this request has no body";
        expect(readAnswer(await sendThroughGate(fixture.driver, get))).to.deep.equal(headerMismatchAnswer(message));
      });

      it("authenticates before it judges the headers", async () => {
        const answer = readAnswer(await post({}, undefined, toolCall, [["Mcp-Method", "tools/list"]]));
        expect(answer.status).to.equal(401);
      });
    });

    describe("keycloak_compat", () => {
      const keycloak = { keycloak_compat: true, enable_acl: true, scope_method_mapping: TOOLS_AND_RESOURCES };

      it("refuses Keycloak ID and refresh tokens, signed by the same key", async () => {
        for (const typ of ["ID", "Refresh"]) {
          const answer = readAnswer(await post(keycloak, await issueToken({ claims: { typ } }), formatJsonRpc("tools/list")));
          expect(answer, typ).to.deep.include({ status: 401, body: { error: "invalid_token", error_description: "the token is not a Keycloak access token" } });
        }
      });

      it("counts realm roles as granted scopes", async () => {
        const token = await issueToken({ claims: { typ: "Bearer", scope: "openid profile", realm_access: { roles: ["mcp:resources", "offline_access"] } } });
        const outcome = expectProxied(await post(keycloak, token, formatJsonRpc("resources/read", { uri: "docs://readme" })));
        expect(outcome.ctxShared.mcp_oauth2).to.deep.include({ scopes: ["openid", "profile", "mcp:resources", "offline_access"] });
        expect(readAnswer(await post({ ...keycloak, keycloak_compat: false }, token, formatJsonRpc("resources/read", { uri: "docs://readme" }))).status).to.equal(403);
      });
    });

    describe("CORS preflights (run_on_preflight)", () => {
      const preflight: HeaderList = [
        ["Origin", "https://inspector.example"],
        ["Access-Control-Request-Method", "POST"],
        ["X-MCP-Subject", "admin"],
      ];

      it("requires a token on OPTIONS by default", async () => {
        routeThroughGate(fixture.driver, baseConfig);
        expect(readAnswer(await sendThroughGate(fixture.driver, { method: "OPTIONS", path: "/mcp", headers: preflight })).status).to.equal(401);
      });

      it("lets a preflight through without a token when off, marked as such and without client-sent identity headers", async () => {
        routeThroughGate(fixture.driver, { ...baseConfig, run_on_preflight: false, upstream_headers: [{ header: "X-MCP-Subject", claim: "sub" }] });
        const outcome = expectProxied(await sendThroughGate(fixture.driver, { method: "OPTIONS", path: "/mcp", headers: preflight }));
        expect(outcome.ctxShared).to.deep.equal({ mcp_oauth2: { preflight: true } });
        expect(findHeaderValues(outcome.upstreamRequest.headers, "X-MCP-Subject")).to.deep.equal([]);
        expect(readAnswer(await sendToolsList(fixture.driver, undefined)).status, "a POST still needs a token").to.equal(401);
      });
    });

    it("cannot be saved with a method pattern Kong's patterns refuse: the driver answers Kong's schema violation", () => {
      const broken = { enable_acl: true, scope_method_mapping: [{ scope: "mcp:tools", methods: ["tools/list", "tools/call:"] }] };
      expect(() => routeThroughGate(fixture.driver, { ...baseConfig, ...broken })).to.throw(
        SchemaViolationError,
        `schema violation (config.scope_method_mapping: {\n  {\n    methods = {\n      [2] = "needs a glob after ':', e.g. tools/call:weather_*"\n    }\n  }\n})`,
      );
    });

    it("answers 500 to every request, and logs the field and the rule, when Kong saved what only the plugin can refuse", async () => {
      const cycle = { enable_acl: true, scope_hierarchy: [{ scope: "mcp:admin", implies: ["mcp:tools"] }, { scope: "mcp:tools", implies: ["mcp:admin"] }] };
      const body = { error: "server_error", error_description: "the gateway's mcp-oauth2 configuration is invalid" };
      for (const token of [undefined, await issueToken()]) {
        const outcome = await post(cycle, token, formatJsonRpc("tools/list"));
        expect(readAnswer(outcome)).to.deep.equal({ status: 500, headers: jsonAnswerHeaders(body), body });
        expect(outcome.logs.map(({ level, message }) => [level, message])).to.deep.equal([
          ["err", "mcp-oauth2: invalid configuration: scope_hierarchy: cycle: mcp:admin -> mcp:tools -> mcp:admin (a scope cannot imply itself)"],
        ]);
      }
    });
  });
}
