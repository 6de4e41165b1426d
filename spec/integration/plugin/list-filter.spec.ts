import { expect } from "chai";
import { NATIVE_LIST_GUARD_BODY, type KongRequest, type Outcome, type ProceedOutcome, type ServiceResponse, type UpstreamRequest } from "../../../kong/driver";
import { expectProxied, formatJsonRpc, formatToolCall, listPdkMethods, postToMcp, startGateFixture, type GateFixture } from "../../support/gate-requests";
import { findBuiltListFilterPluginsDirectory, PLUGIN_SERVER_IMPLEMENTATIONS } from "../../support/plugin-server-fixture";

const TOOL_NAMES = ["weather_now", "math_add", "admin_wipe", "admin_sessions"];
const LIST_TOOLS = formatJsonRpc("tools/list", {}, 3);

/** The id of the request the upstream got: the body a plugin set, or the client's. */
function upstreamIdOf(upstream: UpstreamRequest, client: KongRequest): unknown {
  return (JSON.parse((upstream.body ?? Buffer.from(client.body ?? "")).toString()) as { id?: unknown }).id;
}

/** What the demo MCP server answers to the tools/list it got, as JSON or as one SSE event. */
function toolsListResponse(id: unknown, contentType: "application/json" | "text/event-stream" = "application/json", extraHeaders: Array<[string, string]> = []): ServiceResponse {
  const message = JSON.stringify({ jsonrpc: "2.0", id, result: { tools: TOOL_NAMES.map((name) => ({ name, inputSchema: { type: "object" } })), nextCursor: "2" } });
  const body = contentType === "application/json" ? message : `event: message\nid: 9\ndata: ${message}\n\n`;
  return { status: 200, headers: [["Content-Type", contentType], ["Mcp-Session-Id", "s-1"], ...extraHeaders], body: Buffer.from(body) };
}

/** The tool names a client reads in the response Kong sends (JSON, or the data of the SSE events). */
function readListedTools(response: { headers: Array<[string, string]>; body: Buffer }): string[] {
  const text = response.body.toString();
  const messages = text.startsWith("{") ? [text] : text.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice("data: ".length));
  return messages.flatMap((message) => (JSON.parse(message) as { result: { tools: { name: string }[] } }).result.tools.map(({ name }) => name));
}

/** The response Kong sends after the list filter's response phase (throws unless it ran). */
function bufferedResponseOf(outcome: Outcome): NonNullable<ProceedOutcome["response"]> {
  const proceeded = expectProxied(outcome);
  expect(proceeded.bufferedProxying, "buffered").to.equal(true);
  if (proceeded.response === undefined) throw new Error("no response phase ran");
  return proceeded.response;
}

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`mcp-oauth2 with mcp-oauth2-list-filter on the route (${implementation} plugin servers)`, () => {
    let fixture: GateFixture;
    let gateConfig: Record<string, unknown>;

    before(async () => {
      fixture = await startGateFixture(implementation, { driverOptions: { otherPluginsDirectories: [findBuiltListFilterPluginsDirectory()], nativeGuard: true } });
      gateConfig = {
        ...fixture.baseConfig,
        enable_acl: true,
        filter_lists: true,
        scope_method_mapping: [
          { scope: "mcp:tools", methods: ["tools/list", "tools/call:weather_*", "tools/call:math_*"] },
          { scope: "mcp:admin", methods: ["tools/*"] },
        ],
      };
    });
    beforeEach(() => routeWith(gateConfig));
    after(() => fixture?.close());

    function routeWith(config: Record<string, unknown>, listFilter = true): void {
      const plugins = [{ id: "mcp-oauth2", config }, ...(listFilter ? [{ id: "list-filter", name: "mcp-oauth2-list-filter", config: {} }] : [])];
      fixture.driver.configureRoutes([{ id: "mcp", paths: ["/mcp"], upstream: "http://127.0.0.1:9", stripPath: false, plugins }]);
    }

    /** Sends the request with a token of `scope`; the upstream answers with `service`, given the id of the request it got. */
    async function send(scope: string, request: (token: string) => KongRequest, service: (upstreamId: unknown) => ServiceResponse, seen: UpstreamRequest[] = []): Promise<Outcome> {
      const token = await fixture.issueToken({ claims: { scope, sub: "alice" } });
      const client = request(token);
      const outcome = await fixture.driver.handle(client, async (upstream) => {
        seen.push(upstream);
        return service(upstreamIdOf(upstream, client));
      });
      expect(outcome.failOpen, "Kong failed open").to.equal(undefined);
      return outcome;
    }

    const listTools = (token: string) => postToMcp(token, LIST_TOOLS);

    it("shows a token only the tools it may call, the rest of the response as sent, in 6 access and 6 response round trips", async () => {
      const seen: UpstreamRequest[] = [];
      const outcome = await send("mcp:tools", listTools, (id) => toolsListResponse(id), seen);
      // The upstream answers under an id of the gateway's: no other request of the session can take the list over.
      const upstreamId = upstreamIdOf(seen[0]!, postToMcp(undefined, LIST_TOOLS));
      expect(upstreamId).to.be.a("string").that.matches(/^mcp-oauth2-[A-Za-z0-9_-]{22}$/);
      expect(seen[0]!.body?.toString()).to.equal(LIST_TOOLS.replace('"id":3', `"id":${JSON.stringify(upstreamId)}`));
      expect(seen[0]!.headers.filter(([name]) => name.toLowerCase() === "content-length")).to.deep.equal([["Content-Length", String(seen[0]!.body?.length)]]);
      const response = bufferedResponseOf(outcome);
      expect(response.source).to.equal("plugin");
      expect(response.body.toString()).to.equal(JSON.stringify({ jsonrpc: "2.0", id: 3, result: { tools: [{ name: "weather_now", inputSchema: { type: "object" } }, { name: "math_add", inputSchema: { type: "object" } }], nextCursor: "2" } }));
      expect(response.headers).to.deep.equal([
        ["Content-Type", "application/json"],
        ["Mcp-Session-Id", "s-1"],
        ["Content-Length", String(response.body.length)],
      ]);
      expect(listPdkMethods(outcome)).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.request.get_raw_body", "kong.service.request.clear_header", "kong.service.request.set_raw_body", "kong.ctx.shared.set"]);
      expect(response.pdkCalls.map(({ method }) => method)).to.deep.equal([
        "kong.ctx.shared.get",
        "kong.service.response.get_status",
        "kong.service.response.get_header",
        "kong.service.response.get_header",
        "kong.service.response.get_raw_body",
        "kong.response.exit",
      ]);
    });

    it("filters an SSE response event by event", async () => {
      const response = bufferedResponseOf(await send("mcp:tools", listTools, (id) => toolsListResponse(id, "text/event-stream")));
      expect(readListedTools(response)).to.deep.equal(["weather_now", "math_add"]);
      expect(response.body.toString()).to.match(/^event: message\nid: 9\ndata: \{.*\}\n\n$/);
    });

    it("streams every response with nothing to filter: other calls, bodiless requests, lists a token sees whole (one more round trip)", async () => {
      const cases: Array<[string, (token: string) => KongRequest]> = [
        ["mcp:tools", (token) => postToMcp(token, formatToolCall("weather_now"))],
        ["mcp:tools", (token) => ({ method: "GET", path: "/mcp", headers: [["Authorization", `Bearer ${token}`]] })],
        ["mcp:admin", listTools],
      ];
      for (const [scope, request] of cases) {
        const outcome = expectProxied(await send(scope, request, (id) => toolsListResponse(id)));
        expect([outcome.bufferedProxying, outcome.response], scope).to.deep.equal([false, undefined]);
        expect(listPdkMethods(outcome).filter((method) => method.startsWith("kong.nginx")), scope).to.deep.equal(["kong.nginx.set_ctx"]);
        expect(outcome.ctxShared["mcp_oauth2"], scope).not.to.have.property("listing");
      }
    });

    it("resumes the stream of a token that may not see every list whole without a replay of unfiltered events (no Last-Event-ID upstream)", async () => {
      const resume = (token: string): KongRequest => ({ method: "GET", path: "/mcp", headers: [["Authorization", `Bearer ${token}`], ["Accept", "text/event-stream"], ["Last-Event-ID", "s-1_7"]] });
      const lastEventIdsUpstream = async (scope: string): Promise<string[]> => {
        const { upstreamRequest } = expectProxied(await send(scope, resume, () => ({ status: 200, headers: [["Content-Type", "text/event-stream"]], body: Buffer.from("") })));
        return upstreamRequest.headers.filter(([name]) => name.toLowerCase() === "last-event-id").map(([, value]) => value);
      };
      routeWith({ ...gateConfig, scope_method_mapping: [...(gateConfig["scope_method_mapping"] as object[]), { scope: "mcp:all", methods: ["*"] }] });
      expect(await lastEventIdsUpstream("mcp:tools")).to.deep.equal([]);
      expect(await lastEventIdsUpstream("mcp:admin"), "sees every tool, not every prompt and resource").to.deep.equal([]);
      expect(await lastEventIdsUpstream("mcp:all"), "sees every list whole").to.deep.equal(["s-1_7"]);
      routeWith({ ...gateConfig, acl_mode: "dry_run" });
      expect(await lastEventIdsUpstream("mcp:tools"), "dry run").to.deep.equal(["s-1_7"]);
    });

    it("removes and refuses nothing in dry run, and logs what it would have done", async () => {
      routeWith({ ...gateConfig, acl_mode: "dry_run" });
      const service = toolsListResponse(3);
      const outcome = await send("mcp:tools", listTools, () => service);
      expect(bufferedResponseOf(outcome).body).to.deep.equal(service.body);
      expect(outcome.logs.filter(({ source }) => source === "plugin")).to.deep.equal([
        { level: "notice", message: "mcp-oauth2-list-filter: dry run: would remove from the lists of alice: tools/list admin_wipe, tools/list admin_sessions", source: "plugin" },
      ]);
      const compressed = toolsListResponse(3, "application/json", [["Content-Encoding", "gzip"]]);
      const unreadable = await send("mcp:tools", listTools, () => compressed);
      expect([bufferedResponseOf(unreadable).status, bufferedResponseOf(unreadable).body]).to.deep.equal([200, compressed.body]);
      expect(unreadable.logs.filter(({ source }) => source === "plugin")).to.deep.equal([
        { level: "notice", message: 'mcp-oauth2-list-filter: dry run: would refuse 502: the response to a list request is compressed (Content-Encoding "gzip")', source: "plugin" },
      ]);
    });

    it("answers 502 with a JSON-RPC error to a list response it cannot read, and logs why", async () => {
      const outcome = await send("mcp:tools", listTools, (id) => toolsListResponse(id, "application/json", [["Content-Encoding", "gzip"]]));
      const response = bufferedResponseOf(outcome);
      expect([response.status, JSON.parse(response.body.toString())]).to.deep.equal([502, { jsonrpc: "2.0", id: null, error: { code: -32603, message: "the list response could not be filtered" } }]);
      expect(outcome.logs).to.deep.include({ level: "err", message: 'mcp-oauth2-list-filter: the response to a list request is compressed (Content-Encoding "gzip")', source: "plugin" });
      const plainText = bufferedResponseOf(await send("mcp:tools", listTools, (id) => ({ ...toolsListResponse(id), headers: [["Content-Type", "text/plain"]] })));
      expect(plainText.status).to.equal(502);
    });

    it("lets an upstream's error page through with its status (go-sdk answers an unknown session with 404 text/plain)", async () => {
      const notFound: ServiceResponse = { status: 404, headers: [["Content-Type", "text/plain; charset=utf-8"]], body: Buffer.from("session not found\n") };
      const response = bufferedResponseOf(await send("mcp:tools", listTools, () => notFound));
      expect([response.status, response.body.toString()]).to.deep.equal([404, "session not found\n"]);
    });

    it("refuses a body of more than 64 list requests with 400 before the upstream sees it", async () => {
      const lists = JSON.stringify(Array.from({ length: 65 }, (_, id) => ({ jsonrpc: "2.0", id, method: "tools/list" })));
      const outcome = await send("mcp:tools", (token) => postToMcp(token, lists), (id) => toolsListResponse(id));
      expect(outcome.kind === "exit" && [outcome.status, JSON.parse(outcome.body.toString())]).to.deep.equal([400, { jsonrpc: "2.0", id: null, error: { code: -32600, message: "a body may carry at most 64 list requests" } }]);
    });

    it("refuses every response it sees when mcp-oauth2 hands over no listings (filter_lists off): Kong buffers them all", async () => {
      routeWith({ ...gateConfig, filter_lists: false });
      const outcome = await send("mcp:tools", (token) => postToMcp(token, formatToolCall("weather_now")), (id) => toolsListResponse(id));
      const response = bufferedResponseOf(outcome);
      expect([response.status, JSON.parse(response.body.toString())]).to.deep.equal([500, { error: "server_error", error_description: "the gateway could not decide what this token may list" }]);
      expect(outcome.logs).to.deep.include({ level: "err", message: "mcp-oauth2-list-filter: mcp-oauth2 on this route hands over no listings: turn its filter_lists on", source: "plugin" });
    });

    it("never lets a list out unfiltered when the list filter's plugin server is down: Kong's 500, or the native guard's 502", async () => {
      const listToolsOf = async () => fixture.driver.handle(postToMcp(await fixture.issueToken({ claims: { scope: "mcp:tools" } }), LIST_TOOLS), async () => toolsListResponse(3));
      await listToolsOf();
      await fixture.driver.killServer("mcp-oauth2-list-filter");
      try {
        // Kong knows the instance and fails open on the dead socket: the guard answers instead.
        const guarded = await listToolsOf();
        const response = bufferedResponseOf(guarded);
        expect([response.source, response.status, response.body.toString()]).to.deep.equal(["native-guard", 502, NATIVE_LIST_GUARD_BODY]);
        expect(guarded.logs.map(({ message }) => message)).to.include("mcp-oauth2-list-filter did not answer a list response (plugin server down?); refusing it");
        // After a configuration change Kong must start an instance, which fails: its 500.
        routeWith({ ...gateConfig });
        expect(bufferedResponseOf(await listToolsOf())).to.deep.include({ source: "kong", status: 500 });
      } finally {
        await fixture.driver.restartServer("mcp-oauth2-list-filter");
      }
    });
  });
}
