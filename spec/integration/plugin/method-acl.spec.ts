import { expect } from "chai";
import type { HeaderList, Outcome } from "../../../kong/driver";
import {
  expectProxied,
  formatJsonRpc,
  formatToolCall,
  jsonAnswerHeaders,
  listPdkMethods,
  MCP_METADATA_URL,
  postToMcp,
  readAnswer,
  routeThroughGate,
  sendThroughGate,
  sendToolsList,
  startGateFixture,
  type GateFixture,
  withoutContentLength,
} from "../../support/gate-requests";
import { PLUGIN_SERVER_IMPLEMENTATIONS } from "../../support/plugin-server-fixture";

const MAX_BODY_SIZE = 2048;
const ALLOWED_WITH_ACL = [
  "kong.request.get_path",
  "kong.request.get_headers",
  "kong.request.get_raw_body",
  "kong.service.request.clear_header",
  "kong.ctx.shared.set",
];

/** A 403 as RFC 6750 §3.1 words it, with the scopes that would suffice when some would. */
function insufficientScopeAnswer(description: string, scopes: string | undefined) {
  // The body repeats the scope for clients that show applications only the body of a 403.
  const body = scopes === undefined ? { error: "insufficient_scope", error_description: description } : { error: "insufficient_scope", error_description: description, scope: scopes };
  const scopeParameter = scopes === undefined ? "" : `, scope="${scopes}"`;
  const challenge = `Bearer error="insufficient_scope", error_description="${description}"${scopeParameter}, resource_metadata="${MCP_METADATA_URL}"`;
  return { status: 403, headers: jsonAnswerHeaders(body, { "www-authenticate": challenge }), body };
}

/** JSON-RPC 2.0 §5.1: an error object without an id, for bodies the ACL cannot judge. */
function jsonRpcErrorAnswer(code: number, message: string) {
  const body = { jsonrpc: "2.0", id: null, error: { code, message } };
  return { status: 400, headers: jsonAnswerHeaders(body), body };
}

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`mcp-oauth2 JSON-RPC method ACL (${implementation} plugin server)`, () => {
    let fixture: GateFixture;
    let issueToken: (scope: string, claims?: Record<string, unknown>) => Promise<string>;
    let aclConfig: Record<string, unknown>;

    before(async () => {
      fixture = await startGateFixture(implementation);
      issueToken = (scope, claims = {}) => fixture.issueToken({ claims: { scope, ...claims } });
      aclConfig = {
        ...fixture.baseConfig,
        scopes_supported: ["mcp:tools", "mcp:resources"],
        enable_acl: true,
        max_body_size: MAX_BODY_SIZE,
        scope_method_mapping: [
          { scope: "mcp:tools", methods: ["initialize", "ping", "notifications/*", "tools/list", "tools/call:weather_*", "tools/call:math_*"] },
          { scope: "mcp:admin", methods: ["tools/call:admin_*"] },
          { scope: "mcp:resources", methods: ["resources/list", "resources/read:docs://*", "prompts/*"] },
        ],
      };
    });
    beforeEach(() => routeThroughGate(fixture.driver, aclConfig));
    after(() => fixture?.close());

    async function post(scope: string, body: string | Buffer, headers: HeaderList = []): Promise<Outcome> {
      return sendThroughGate(fixture.driver, postToMcp(await issueToken(scope), body, headers));
    }

    describe("allowed calls", () => {
      it("lets a permitted call through, in exactly 5 round trips also for a remembered token", async () => {
        const request = postToMcp(await issueToken("mcp:tools"), formatJsonRpc("tools/list"));
        for (const attempt of ["verified", "remembered"]) {
          const outcome = expectProxied(await sendThroughGate(fixture.driver, request));
          expect(listPdkMethods(outcome), attempt).to.deep.equal(ALLOWED_WITH_ACL);
        }
      });

      it("matches tools by glob on params.name, resources by glob on params.uri, methods by prefix", async () => {
        const allowed: Array<[string, string]> = [
          ["mcp:tools", formatToolCall("weather_forecast")],
          ["mcp:tools", formatToolCall("math_add")],
          ["mcp:tools", formatJsonRpc("notifications/initialized", {}, undefined)],
          ["mcp:admin", formatToolCall("admin_clear_cache")],
          ["mcp:resources", formatJsonRpc("resources/read", { uri: "docs://guides/readme" })],
          ["mcp:resources", formatJsonRpc("prompts/get", { name: "summarize_text" })],
        ];
        for (const [scope, body] of allowed) expectProxied(await post(scope, body));
      });

      it("lets a batch through when every call in it is allowed", async () => {
        const batch = `[${formatJsonRpc("tools/list", {}, 1)},${formatToolCall("weather_current")},${formatJsonRpc("notifications/initialized", {}, undefined)}]`;
        expectProxied(await post("mcp:tools", batch));
      });

      it("lets responses to server requests through for a token holding any mapped scope: there is no call to authorize", async () => {
        expectProxied(await post("mcp:resources", JSON.stringify({ jsonrpc: "2.0", id: 7, result: { content: [] } })));
        expectProxied(await post("mcp:resources", JSON.stringify([{ jsonrpc: "2.0", id: 8, error: { code: -1, message: "declined" } }])));
      });

      it("lets a bodiless GET (the SSE stream) and DELETE (session end) through for a token holding any mapped scope", async () => {
        for (const method of ["GET", "DELETE"]) {
          const outcome = expectProxied(await sendThroughGate(fixture.driver, { method, path: "/mcp", headers: [["Authorization", `Bearer ${await issueToken("mcp:admin")}`]] }));
          expect(listPdkMethods(outcome), method).to.deep.equal([
            "kong.request.get_path",
            "kong.request.get_headers",
            "kong.request.get_raw_body",
            "kong.request.get_method",
            "kong.service.request.clear_header",
            "kong.ctx.shared.set",
          ]);
        }
      });

      it("lets any token holding a scope the ACL knows open and keep a session (session_methods), and no other", async () => {
        const lifecycle = ["initialize", "ping", "server/discover"].map((method, id) => formatJsonRpc(method, {}, id));
        const notifications = ["notifications/initialized", "notifications/cancelled"].map((method) => formatJsonRpc(method, {}, undefined));
        const sessionConfig = { ...aclConfig, scope_method_mapping: [{ scope: "mcp:admin", methods: ["tools/call:admin_*"] }] };
        routeThroughGate(fixture.driver, sessionConfig);
        for (const body of [...lifecycle, ...notifications, `[${lifecycle.join(",")}]`]) expectProxied(await post("mcp:admin", body));
        expect(readAnswer(await post("openid", lifecycle[0]!))).to.deep.equal(insufficientScopeAnswer("the token's scopes allow nothing on this resource", "mcp:tools mcp:resources"));
        routeThroughGate(fixture.driver, { ...sessionConfig, session_methods: [] });
        expect(readAnswer(await post("mcp:admin", lifecycle[1]!))).to.deep.equal(insufficientScopeAnswer("the token's scopes do not allow ping", undefined));
      });

      it("refuses a token holding no mapped scope before reading its body (403, asking for what the body needs)", async () => {
        const response = JSON.stringify({ jsonrpc: "2.0", id: 7, result: { content: [] } });
        for (const scope of ["", "openid profile"]) {
          const outcome = await post(scope, response);
          const body = { error: "insufficient_scope", error_description: "the token's scopes allow nothing on this resource", scope: "mcp:tools mcp:resources" };
          expect(readAnswer(outcome)).to.deep.include({ status: 403, body });
          expect(readAnswer(outcome).headers["www-authenticate"]).to.equal(
            `Bearer error="insufficient_scope", error_description="the token's scopes allow nothing on this resource", scope="mcp:tools mcp:resources", resource_metadata="${MCP_METADATA_URL}"`,
          );
          expect(listPdkMethods(outcome)).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.request.get_raw_body", "kong.log.notice", "kong.response.exit"]);
        }
        const call = formatJsonRpc("resources/read", { uri: "docs://readme" });
        const outcome = await post("", call);
        expect(readAnswer(outcome).headers["www-authenticate"]).to.contain('scope="mcp:resources"');
        const bodiless = await sendThroughGate(fixture.driver, { method: "GET", path: "/mcp", headers: [["Authorization", `Bearer ${await issueToken("")}`]] });
        expect(readAnswer(bodiless).status).to.equal(403);
      });

      it("grants what a broader scope implies (scope_hierarchy) and reads grants from a dot-path claim", async () => {
        routeThroughGate(fixture.driver, { ...aclConfig, scope_hierarchy: [{ scope: "mcp:all", implies: ["mcp:tools", "mcp:resources"] }] });
        expectProxied(await post("mcp:all", formatJsonRpc("resources/read", { uri: "docs://readme" })));
        routeThroughGate(fixture.driver, { ...aclConfig, acl_claim: "realm_access.roles" });
        const roleHolder = await issueToken("", { realm_access: { roles: ["mcp:tools"] } });
        expectProxied(await sendToolsList(fixture.driver, roleHolder));
        expect(readAnswer(await post("mcp:tools", formatJsonRpc("tools/list"))).status, "the scope claim no longer counts").to.equal(403);
      });
    });

    describe("403 insufficient_scope: the narrowest scope that would do, plus the scopes held", () => {
      it("names the narrowest scope for a denied tool and keeps the held scope, logging a notice", async () => {
        const outcome = await post("mcp:tools", formatToolCall("admin_clear_cache"));
        expect(readAnswer(outcome)).to.deep.equal(insufficientScopeAnswer("the token's scopes do not allow tools/call admin_clear_cache", "mcp:admin mcp:tools"));
        expect(listPdkMethods(outcome)).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.request.get_raw_body", "kong.log.notice", "kong.response.exit"]);
        expect(outcome.logs.map(({ level, message }) => [level, message])).to.deep.equal([
          ["notice", "mcp-oauth2: 403 on /mcp: insufficient scope for tools/call admin_clear_cache: token of user-1 holds [mcp:tools], would need [mcp:admin mcp:tools]"],
        ]);
      });

      it("names every scope a denied batch needs in one challenge", async () => {
        const batch = `[${formatJsonRpc("tools/list", {}, 1)},${formatJsonRpc("resources/read", { uri: "docs://readme" }, 2)},${formatToolCall("admin_list_sessions")}]`;
        expect(readAnswer(await post("mcp:tools", batch))).to.deep.equal(
          insufficientScopeAnswer("the token's scopes do not allow resources/read docs://readme, tools/call admin_list_sessions", "mcp:resources mcp:admin mcp:tools"),
        );
      });

      it("leaves the scope out when no configured scope allows the call", async () => {
        expect(readAnswer(await post("mcp:tools", formatToolCall("text_reverse")))).to.deep.equal(
          insufficientScopeAnswer("the token's scopes do not allow tools/call text_reverse", undefined),
        );
        expect(readAnswer(await post("mcp:resources", formatJsonRpc("resources/read", { uri: "config://app" })))).to.deep.equal(
          insufficientScopeAnswer("the token's scopes do not allow resources/read config://app", undefined),
        );
      });

      it("refuses every request, a bodiless GET included, when the mapping is empty", async () => {
        routeThroughGate(fixture.driver, { ...aclConfig, scope_method_mapping: [] });
        const refusal = insufficientScopeAnswer("no JSON-RPC method is allowed on this resource", undefined);
        expect(readAnswer(await post("mcp:tools", formatJsonRpc("initialize")))).to.deep.equal(refusal);
        const get = await sendThroughGate(fixture.driver, { method: "GET", path: "/mcp", headers: [["Authorization", `Bearer ${await issueToken("mcp:tools")}`]] });
        expect(readAnswer(get)).to.deep.equal(refusal);
      });
    });

    describe("bodies the ACL cannot judge", () => {
      it("answers 413 from Content-Length without reading the body", async () => {
        const outcome = await post("mcp:tools", formatJsonRpc("tools/list"), [["Content-Length", String(MAX_BODY_SIZE + 1)]]);
        const body = { error: "request_too_large", error_description: `the request body is larger than ${MAX_BODY_SIZE} bytes` };
        expect(readAnswer(outcome)).to.deep.equal({ status: 413, headers: jsonAnswerHeaders(body), body });
        expect(listPdkMethods(outcome)).not.to.include("kong.request.get_raw_body");
      });

      it("answers 413 to a body over max_body_size that Kong holds in memory", async () => {
        const padded = formatJsonRpc("tools/list", { padding: "x".repeat(MAX_BODY_SIZE) });
        expect(readAnswer(await post("mcp:tools", padded)).status).to.equal(413);
      });

      it("never proxies a body beyond client_body_buffer_size and max_body_size sent without Content-Length: Kong answers 500", async () => {
        const chunked = withoutContentLength(postToMcp(await issueToken("mcp:tools"), formatJsonRpc("tools/list", { padding: "x".repeat(10_000) })));
        const outcome = await sendThroughGate(fixture.driver, chunked);
        expect(outcome).to.include({ kind: "exit", source: "kong", status: 500 });
      });

      it("answers 415 to a body that is not sent as JSON, and accepts +json media types", async () => {
        const postAs = async (mediaType: string) =>
          sendThroughGate(fixture.driver, {
            method: "POST",
            path: "/mcp",
            headers: [["Authorization", `Bearer ${await issueToken("mcp:tools")}`], ["Content-Type", mediaType]],
            body: formatJsonRpc("tools/list"),
          });
        const body = { error: "unsupported_media_type", error_description: "JSON-RPC bodies must be sent as application/json" };
        expect(readAnswer(await postAs("text/plain"))).to.deep.equal({ status: 415, headers: jsonAnswerHeaders(body), body });
        for (const mediaType of ["application/json; charset=utf-8", "application/vnd.mcp+json"]) expectProxied(await postAs(mediaType));
      });

      it("answers 400 with a JSON-RPC error to bodies that are not JSON-RPC it can read exactly", async () => {
        const cases: Array<[string, number, string]> = [
          ["", -32600, "the request has no JSON-RPC body"],
          ["{not json", -32700, "the body is not valid UTF-8 JSON"],
          ['{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"admin_clear_cache"}', -32600, 'the body repeats the member name "method"'],
          ["[]", -32600, "an empty JSON-RPC batch is invalid"],
          ["[1]", -32600, "every JSON-RPC message must be an object"],
          ['{"jsonrpc":"2.0","id":1}', -32600, "a JSON-RPC message needs a method, a result or an error"],
        ];
        for (const [body, code, message] of cases) {
          expect(readAnswer(await post("mcp:tools", body)), body).to.deep.equal(jsonRpcErrorAnswer(code, message));
        }
      });
    });
  });
}
