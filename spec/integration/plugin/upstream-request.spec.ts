import { expect } from "chai";
import { SchemaViolationError, type HeaderList, type KongGateway } from "../../../kong/driver";
import { startMcpServer, type DemoMcpServer } from "../../../demo/mcp-server";
import {
  expectProxied,
  expectRefusedToken,
  findHeaderValues,
  formatJsonRpc,
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

const SUBJECT = "7c0e2d4a-alice";
const IDENTITY_HEADERS = [
  { header: "X-MCP-Subject", claim: "sub" },
  { header: "X-MCP-Roles", claim: "realm_access.roles" },
  { header: "X-MCP-Email", claim: "email" },
];

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`mcp-oauth2 and the request the upstream receives (${implementation} plugin server)`, () => {
    let fixture: GateFixture;
    let issueToken: GateFixture["issueToken"];
    let baseConfig: Readonly<Record<string, unknown>>;

    before(async () => {
      fixture = await startGateFixture(implementation, {
        tokens: { claims: { sub: SUBJECT, azp: "vscode", scope: "mcp:tools", realm_access: { roles: ["mcp:tools", "mcp:resources"] } } },
      });
      ({ issueToken, baseConfig } = fixture);
    });
    beforeEach(() => routeThroughGate(fixture.driver, baseConfig));
    after(() => fixture?.close());

    async function proxy(config: Record<string, unknown>, headers: HeaderList) {
      routeThroughGate(fixture.driver, { ...baseConfig, ...config });
      return expectProxied(await sendThroughGate(fixture.driver, postToMcp(undefined, formatJsonRpc("tools/list"), headers)));
    }

    describe("the token header", () => {
      it("is removed before proxying by default (MCP forbids token passthrough); the rest passes unchanged", async () => {
        const outcome = await proxy({}, [["Authorization", `Bearer ${await issueToken()}`], ["Mcp-Session-Id", "session-1"]]);
        expect(findHeaderValues(outcome.upstreamRequest.headers, "Authorization")).to.deep.equal([]);
        expect(findHeaderValues(outcome.upstreamRequest.headers, "Mcp-Session-Id")).to.deep.equal(["session-1"]);
        expect(findHeaderValues(outcome.upstreamRequest.headers, "Content-Type")).to.deep.equal(["application/json"]);
        expect(outcome.pdkCalls.find(({ method }) => method === "kong.service.request.clear_header")?.args).to.deep.equal(["Authorization"]);
      });

      it("is passed on unchanged only with forward_authorization_header, in 3 round trips", async () => {
        const credential = `Bearer ${await issueToken()}`;
        const outcome = await proxy({ forward_authorization_header: true }, [["Authorization", credential]]);
        expect(findHeaderValues(outcome.upstreamRequest.headers, "Authorization")).to.deep.equal([credential]);
        expect(listPdkMethods(outcome)).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.ctx.shared.set"]);
      });

      it("is the configured header_name, which is removed while Authorization is left alone", async () => {
        const token = await issueToken();
        const outcome = await proxy({ header_name: "X-MCP-Token" }, [["X-MCP-Token", `Bearer ${token}`], ["Authorization", "Basic dXNlcjpwYXNz"]]);
        expect(findHeaderValues(outcome.upstreamRequest.headers, "X-MCP-Token")).to.deep.equal([]);
        expect(findHeaderValues(outcome.upstreamRequest.headers, "Authorization")).to.deep.equal(["Basic dXNlcjpwYXNz"]);
        const inAuthorization = await sendToolsList(fixture.driver, token);
        expect(readAnswer(inAuthorization).status).to.equal(401);
      });
    });

    describe("the verified identity", () => {
      it("is shared with other plugins in kong.ctx.shared.mcp_oauth2", async () => {
        const outcome = await proxy({}, [["Authorization", `Bearer ${await issueToken()}`]]);
        expect(outcome.ctxShared).to.deep.equal({ mcp_oauth2: { subject: SUBJECT, issuer: fixture.jwks.url, client_id: "vscode", scopes: ["mcp:tools"] } });
      });

      it("names a service account by client_id and leaves absent claims out", async () => {
        const token = await issueToken({ claims: { sub: undefined, azp: undefined, client_id: "mcp-machine", scope: "mcp:tools mcp:resources" } });
        const outcome = await proxy({}, [["Authorization", `Bearer ${token}`]]);
        expect(outcome.ctxShared.mcp_oauth2).to.deep.equal({ issuer: fixture.jwks.url, client_id: "mcp-machine", scopes: ["mcp:tools", "mcp:resources"] });
      });

      it("reaches the upstream in upstream_headers, replacing what the client sent and clearing headers of absent claims", async () => {
        const token = await issueToken();
        const spoofed: HeaderList = [["Authorization", `Bearer ${token}`], ["X-MCP-Subject", "admin"], ["X-MCP-Email", "root@example.com"]];
        for (const attempt of ["verified", "remembered"]) {
          const { upstreamRequest } = await proxy({ upstream_headers: IDENTITY_HEADERS }, spoofed);
          const identity = ["X-MCP-Subject", "X-MCP-Roles", "X-MCP-Email"].map((name) => findHeaderValues(upstreamRequest.headers, name));
          expect(identity, attempt).to.deep.equal([[SUBJECT], ["mcp:tools, mcp:resources"], []]);
        }
      });

      it("refuses a token whose identity claim would smuggle a header line", async () => {
        const token = await issueToken({ claims: { sub: "alice\r\nX-Admin: yes" } });
        routeThroughGate(fixture.driver, { ...baseConfig, upstream_headers: IDENTITY_HEADERS });
        expectRefusedToken(await sendToolsList(fixture.driver, token), "a token claim cannot be passed to the upstream");
      });

      it("cannot be saved into Host, Content-Length, a hop-by-hop, Proxy-* or MCP header: a claim would pick the upstream host or frame the body", () => {
        const reserved = "identity headers cannot replace the headers that frame, route or identify the request";
        for (const [header, err] of [
          ["Host", `must not be Host: ${reserved}`],
          ["content-length", `must not be Content-Length: ${reserved}`],
          ["Transfer-Encoding", `must not be Transfer-Encoding: ${reserved}`],
          ["Proxy-Authorization", "must not start with Proxy-: identity headers cannot address proxies"],
          ["mcp-session-id", `must not be Mcp-Session-Id: ${reserved}`],
        ]) {
          const save = () => routeThroughGate(fixture.driver, { ...baseConfig, upstream_headers: [IDENTITY_HEADERS[0], { header, claim: "sub" }] });
          expect(save, header).to.throw(SchemaViolationError, `schema violation (config.upstream_headers: {\n  [2] = {\n    header = "${err}"\n  }\n})`);
        }
      });

      it("answers 500, logging field and rule, when upstream_headers repeats the token header (no pattern can compare two fields)", async () => {
        routeThroughGate(fixture.driver, { ...baseConfig, header_name: "X-MCP-Token", upstream_headers: [{ header: "x-mcp-token", claim: "sub" }] });
        const outcome = await sendThroughGate(fixture.driver, postToMcp(undefined, formatJsonRpc("tools/list"), [["X-MCP-Token", `Bearer ${await issueToken()}`]]));
        expect(readAnswer(outcome).status).to.equal(500);
        expect(outcome.logs.map(({ level, message }) => [level, message])).to.deep.equal([
          ["err", "mcp-oauth2: invalid configuration: upstream_headers[1].header: 'x-mcp-token' is header_name, which carries the token"],
        ]);
      });
    });

    describe("through the gateway to a real MCP server", () => {
      let mcpServer: DemoMcpServer;
      let gateway: KongGateway;

      before(async () => {
        mcpServer = await startMcpServer({ port: 0 });
        gateway = await fixture.driver.listen({ port: 0, host: "127.0.0.1" });
      });
      beforeEach(() => routeThroughGate(fixture.driver, { ...baseConfig, upstream_headers: IDENTITY_HEADERS }, new URL(mcpServer.url).origin));
      after(async () => {
        await gateway?.close();
        await mcpServer?.close();
      });

      function postInitialize(headers: Record<string, string>): Promise<Response> {
        return fetch(`${gateway.url}/mcp`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
          body: formatJsonRpc("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "spec", version: "1" } }),
          signal: AbortSignal.timeout(10_000),
        });
      }

      it("delivers an allowed request without the token and with the identity, and the MCP server's answer back", async () => {
        mcpServer.clearReceivedRequests();
        const response = await postInitialize({ authorization: `Bearer ${await issueToken()}`, "x-mcp-subject": "admin" });
        expect(response.status).to.equal(200);
        expect(response.headers.get("mcp-session-id")).to.be.a("string");
        expect(await response.text()).to.include('"serverInfo":{"name":"mcp-oauth2-demo"');
        const [received] = mcpServer.receivedRequests();
        expect(received?.headers).not.to.have.property("authorization");
        expect(received?.headers).to.include({ "x-mcp-subject": SUBJECT, "x-mcp-roles": "mcp:tools, mcp:resources" });
      });

      it("never lets a refused request reach the MCP server", async () => {
        mcpServer.clearReceivedRequests();
        const refusals = [
          await postInitialize({}),
          await postInitialize({ authorization: `Bearer ${await issueToken({ expiresIn: -600 })}` }),
          await postInitialize({ authorization: "Bearer not-a-token" }),
        ];
        expect(refusals.map((response) => response.status)).to.deep.equal([401, 401, 401]);
        expect(refusals[0]?.headers.get("www-authenticate")).to.equal(`Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`);
        await Promise.all(refusals.map((response) => response.body?.cancel()));
        expect(mcpServer.receivedRequests()).to.deep.equal([]);
      });
    });
  });
}
