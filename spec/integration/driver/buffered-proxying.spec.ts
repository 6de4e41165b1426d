import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startPluginServerDriver, type KongDriver, type Outcome, type PluginServerDriver, type ServiceResponse } from "../../../kong/driver";
import { assertOurPluginServerIsBuilt } from "../../support/plugin-server-fixture";
import { createTestPluginDirectory, echoConfig, type EchoAnswer, type EchoStep, type TestPluginDirectory } from "../../support/test-plugins";

const SERVICE_RESPONSE: ServiceResponse = {
  status: 201,
  headers: [
    ["Content-Type", "text/event-stream"],
    ["Mcp-Session-Id", "s-1"],
    ["X-Multi", "a"],
    ["X-Multi", "b"],
  ],
  body: Buffer.from("event: message\ndata: {}\n\n"),
};

/** The response Kong sends after buffered proxying (throws unless the driver ran the response phase). */
function bufferedResponseOf(outcome: Outcome) {
  if (outcome.kind !== "proceed" || outcome.response === undefined) throw new Error(`expected a buffered response, got ${outcome.kind}`);
  return outcome.response;
}

/**
 * Kong 3.9 with two plugin servers, one per plugin (pluginserver_names = echo,echo-response):
 * "echo" has an access phase (priority 1000), "echo-response" a response phase (1301).
 */
describe("the driver's buffered proxying (a plugin with a response phase on the route)", () => {
  let directories: TestPluginDirectory[];
  let fixture: PluginServerDriver;
  let driver: KongDriver;

  before(async () => {
    assertOurPluginServerIsBuilt();
    directories = [createTestPluginDirectory("echo"), createTestPluginDirectory("echo-response")];
    fixture = await startPluginServerDriver("ours", directories[0]!.path, { otherPluginsDirectories: [directories[1]!.path] });
    driver = fixture.driver;
  });
  after(async () => {
    await fixture?.close();
    for (const directory of directories) directory.remove();
  });

  /** One route: "echo" in access running `access`, "echo-response" in the response phase running `response`. */
  function route(access: readonly EchoStep[] | undefined, response: readonly EchoStep[] | undefined, answer = true): void {
    const plugins = [
      ...(access === undefined ? [] : [{ id: "access-plugin", name: "echo", config: echoConfig(access, { answer: false }) }]),
      ...(response === undefined ? [] : [{ id: "response-plugin", name: "echo-response", config: echoConfig(response, { answer }) }]),
    ];
    driver.configureRoutes([{ id: "r", paths: ["/mcp"], upstream: "http://127.0.0.1:9/mcp", plugins }]);
  }

  const answerService = async () => SERVICE_RESPONSE;

  it("proxies unbuffered without a response-phase plugin, and buffers with one", async () => {
    route([["kong.ctx.shared.set", "k", "v"]], undefined);
    const streamed = await driver.handle({ method: "POST", path: "/mcp" }, answerService);
    expect(streamed.kind === "proceed" && [streamed.bufferedProxying, streamed.response]).to.deep.equal([false, undefined]);
    route(undefined, [], false);
    const buffered = await driver.handle({ method: "POST", path: "/mcp" }, answerService);
    expect(buffered.kind === "proceed" && buffered.bufferedProxying).to.equal(true);
    expect(bufferedResponseOf(buffered)).to.deep.include({ source: "service", ...SERVICE_RESPONSE });
  });

  it("hands the response phase the service's status, headers one by one, raw body, and the access phase's ctx.shared", async () => {
    route(
      [["kong.ctx.shared.set", "seen", "by access"]],
      [
        ["kong.service.response.get_status"],
        ["kong.service.response.get_header", "mcp_session_id"],
        ["kong.service.response.get_header", "X-Multi"],
        ["kong.service.response.get_headers"],
        ["kong.service.response.get_raw_body"],
        ["kong.ctx.shared.get", "seen"],
        ["kong.request.get_raw_body"],
      ],
    );
    const outcome = await driver.handle({ method: "POST", path: "/mcp", body: "{}" }, answerService);
    const answer = JSON.parse(bufferedResponseOf(outcome).body.toString()) as EchoAnswer;
    expect(answer.results).to.deep.equal([
      { value: 201 },
      { value: "s-1" },
      { value: "a" },
      // Kong's table over buffered headers cannot be walked: through the bridge it arrives empty.
      { value: {} },
      { bin: SERVICE_RESPONSE.body.toString("base64"), isBuffer: true },
      { value: "by access" },
      { bin: Buffer.from("{}").toString("base64"), isBuffer: true },
    ]);
    expect(bufferedResponseOf(outcome).pdkCalls.map(({ method }) => method)).to.deep.equal([
      "kong.service.response.get_status",
      "kong.service.response.get_header",
      "kong.service.response.get_header",
      "kong.service.response.get_headers",
      "kong.service.response.get_raw_body",
      "kong.ctx.shared.get",
      "kong.request.get_raw_body",
      "kong.response.exit",
    ]);
  });

  it("answers with kong.response.exit over the service's headers, its own replacing theirs, with its Content-Length", async () => {
    route(undefined, [], true);
    const response = bufferedResponseOf(await driver.handle({ method: "POST", path: "/mcp" }, answerService));
    expect(response.source).to.equal("plugin");
    expect(response.status).to.equal(200);
    expect(response.headers).to.deep.equal([
      ["Mcp-Session-Id", "s-1"],
      ["X-Multi", "a"],
      ["X-Multi", "b"],
      ["Content-Type", "application/json"],
      ["Content-Length", String(response.body.length)],
    ]);
  });

  it("raises where Kong's phase checks do: Kong's 500, the phase check's message in its log", async () => {
    const raised = {
      "kong.response.set_raw_body": "function cannot be called in response phase (only in: body_filter)",
      "kong.response.get_raw_body": "function cannot be called in response phase (only in: body_filter)",
      "kong.service.request.set_header": "function cannot be called in response phase (only in: rewrite, access, balancer)",
      "kong.service.request.clear_header": "function cannot be called in response phase (only in: rewrite, access)",
    };
    for (const [method, message] of Object.entries(raised)) {
      route(undefined, [[method, "X-A", "1"]]);
      const outcome = await driver.handle({ method: "POST", path: "/mcp" }, answerService);
      const { source, status, body } = bufferedResponseOf(outcome);
      expect([source, status, body.toString()], method).to.deep.equal(["kong", 500, '{"message":"An unexpected error occurred"}']);
      expect(outcome.logs, method).to.deep.include({ level: "err", message, source: "kong" });
    }
    driver.configureRoutes([{ id: "r", paths: ["/mcp"], plugins: [{ id: "access-plugin", name: "echo", config: echoConfig([["kong.service.response.get_status"]]) }] }]);
    const inAccess = await driver.handle({ method: "POST", path: "/mcp" });
    expect(inAccess.kind === "exit" && [inAccess.source, inAccess.status]).to.deep.equal(["kong", 500]);
    expect(inAccess.logs).to.deep.include({ level: "err", message: "function cannot be called in access phase (only in: response, header_filter, body_filter, log)", source: "kong" });
  });

  it("leaves buffering off when a later access phase clears ngx.ctx.buffered_proxying, or for a connection upgrade", async () => {
    route([["kong.nginx.set_ctx", "buffered_proxying", false]], [], true);
    const cleared = await driver.handle({ method: "POST", path: "/mcp" }, answerService);
    expect(cleared.kind === "proceed" && [cleared.bufferedProxying, cleared.response]).to.deep.equal([false, undefined]);
    route(undefined, [], true);
    const upgraded = await driver.handle({ method: "GET", path: "/mcp", headers: [["Upgrade", "websocket"], ["Connection", "Upgrade"]] }, answerService);
    expect(upgraded.kind === "proceed" && upgraded.bufferedProxying).to.equal(false);
    expect(upgraded.logs).to.deep.include({ level: "notice", message: "response buffering was turned off: connection upgrade (websocket)", source: "kong" });
  });

  describe("over HTTP", () => {
    let upstream: Server;

    before(async () => {
      upstream = createServer((_request, response) => {
        response.writeHead(200, { "Content-Type": "text/event-stream" });
        response.write("data: first\n\n");
        setTimeout(() => response.end("data: second\n\n"), 20);
      });
      await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    });
    after(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

    it("captures the whole upstream response before the response phase sees it", async () => {
      const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`;
      driver.configureRoutes([{ id: "r", paths: ["/mcp"], upstream: upstreamUrl, stripPath: false, plugins: [{ id: "response-plugin", name: "echo-response", config: echoConfig([["kong.service.response.get_raw_body"]]) }] }]);
      const gateway = await driver.listen();
      try {
        const response = await fetch(`${gateway.url}/mcp`, { method: "POST", body: "{}" });
        const answer = (await response.json()) as EchoAnswer;
        expect(Buffer.from(answer.results[0]!.bin!, "base64").toString()).to.equal("data: first\n\ndata: second\n\n");
      } finally {
        await gateway.close();
      }
    });
  });
});
