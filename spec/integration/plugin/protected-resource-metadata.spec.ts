import { expect } from "chai";
import type { HeaderList, KongRequest } from "../../../kong/driver";
import {
  jsonAnswerHeaders,
  listPdkMethods,
  MCP_RESOURCE,
  readAnswer,
  routeThroughGate,
  sendThroughGate,
  startGateFixture,
  type GateFixture,
} from "../../support/gate-requests";
import type { JwksServer } from "../../support/jwks-server";
import { PLUGIN_SERVER_IMPLEMENTATIONS } from "../../support/plugin-server-fixture";

/** The load balancer in front of Kong: Kong's trusted_ips, so its X-Forwarded-* count. */
const PROXY_IP = "10.0.0.2";
const FORWARDED_BY_PROXY: HeaderList = [
  ["X-Forwarded-Proto", "https"],
  ["X-Forwarded-Host", "mcp.example.com"],
  ["X-Forwarded-Port", "443"],
];

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`mcp-oauth2 protected resource metadata, RFC 9728 (${implementation} plugin server)`, () => {
    let fixture: GateFixture;
    let jwks: JwksServer;
    let baseConfig: Record<string, unknown>;

    before(async () => {
      fixture = await startGateFixture(implementation, { driverOptions: { trustedIps: [PROXY_IP] } });
      jwks = fixture.jwks;
      baseConfig = { ...fixture.baseConfig, resource: undefined, scopes_supported: ["mcp:tools", "mcp:resources"] };
    });
    after(() => fixture?.close());

    /** Metadata and the 401s around it never need a key: the JWKS is never fetched. */
    async function requestMetadata(request: Partial<KongRequest>, config: Record<string, unknown> = {}) {
      routeThroughGate(fixture.driver, { ...baseConfig, ...config });
      const outcome = await sendThroughGate(fixture.driver, { method: "GET", path: "/.well-known/oauth-protected-resource/mcp", ...request });
      expect(jwks.requestCount, "JWKS requests").to.equal(0);
      return outcome;
    }

    describe("without a configured resource: the origin the client used, as Kong forwards it", () => {
      it("serves the path-inserted document for /mcp with the origin a trusted proxy forwarded (default port omitted)", async () => {
        const outcome = await requestMetadata({ clientIp: PROXY_IP, headers: FORWARDED_BY_PROXY });
        const document = {
          resource: MCP_RESOURCE,
          authorization_servers: [jwks.url],
          bearer_methods_supported: ["header"],
          scopes_supported: ["mcp:tools", "mcp:resources"],
        };
        expect(readAnswer(outcome)).to.deep.equal({ status: 200, headers: jsonAnswerHeaders(document), body: document });
        expect(listPdkMethods(outcome)).to.deep.equal([
          "kong.request.get_path",
          "kong.request.get_method",
          "kong.request.get_forwarded_scheme",
          "kong.request.get_forwarded_host",
          "kong.request.get_forwarded_port",
          "kong.response.exit",
        ]);
      });

      it("ignores X-Forwarded-* from an untrusted client and names the Host it reached Kong with", async () => {
        const outcome = await requestMetadata({ headers: [["Host", "gateway.test"], ...FORWARDED_BY_PROXY] });
        expect(readAnswer(outcome).body).to.deep.include({ resource: "http://gateway.test:8000/mcp" });
      });

      it("serves the root document for the origin, also with a trailing slash", async () => {
        for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/"]) {
          const outcome = await requestMetadata({ path, clientIp: PROXY_IP, headers: FORWARDED_BY_PROXY });
          expect(readAnswer(outcome).body, path).to.deep.include({ resource: "https://mcp.example.com" });
        }
      });

      it("describes the normalized path Kong routed, percent-encoding what is not a URL path character", async () => {
        const decoded = await requestMetadata({ path: "/.well-known/oauth-protected-resource/m%63p", clientIp: PROXY_IP, headers: FORWARDED_BY_PROXY });
        expect(readAnswer(decoded).body).to.deep.include({ resource: MCP_RESOURCE });
        const spaced = await requestMetadata({ path: "/.well-known/oauth-protected-resource/mcp%20tools", clientIp: PROXY_IP, headers: FORWARDED_BY_PROXY });
        expect(readAnswer(spaced).body).to.deep.include({ resource: "https://mcp.example.com/mcp%20tools" });
      });

      it("refuses a Host that cannot name a resource with 400, without echoing it", async () => {
        const outcome = await requestMetadata({ headers: [["Host", 'evil"host']] });
        const answer = readAnswer(outcome);
        expect(answer.status).to.equal(400);
        expect(JSON.stringify(answer)).not.to.include("evil");
      });
    });

    describe("with a configured resource: its origin, whatever the request says", () => {
      const configured = { resource: MCP_RESOURCE, resource_name: "Demo MCP" };

      it("serves the root document as the configured resource with resource_name, in 3 round trips", async () => {
        const outcome = await requestMetadata({ path: "/.well-known/oauth-protected-resource", headers: [["Host", "internal.example"]] }, configured);
        const document = {
          resource: MCP_RESOURCE,
          authorization_servers: [jwks.url],
          bearer_methods_supported: ["header"],
          scopes_supported: ["mcp:tools", "mcp:resources"],
          resource_name: "Demo MCP",
        };
        expect(readAnswer(outcome)).to.deep.equal({ status: 200, headers: jsonAnswerHeaders(document), body: document });
        expect(listPdkMethods(outcome)).to.deep.equal(["kong.request.get_path", "kong.request.get_method", "kong.response.exit"]);
      });

      it("builds the path-inserted document on the configured origin, not the Host", async () => {
        const outcome = await requestMetadata({ headers: [["Host", "internal.example"]] }, configured);
        expect(readAnswer(outcome).body).to.deep.include({ resource: MCP_RESOURCE });
      });

      it("omits scopes_supported when none are configured", async () => {
        const outcome = await requestMetadata({}, { ...configured, scopes_supported: [] });
        expect(readAnswer(outcome).body).to.deep.equal({
          resource: MCP_RESOURCE,
          authorization_servers: [jwks.url],
          bearer_methods_supported: ["header"],
          resource_name: "Demo MCP",
        });
      });
    });

    it("answers HEAD like GET (Kong sends the headers only)", async () => {
      const get = readAnswer(await requestMetadata({}, { resource: MCP_RESOURCE }));
      const head = readAnswer(await requestMetadata({ method: "HEAD" }, { resource: MCP_RESOURCE }));
      expect(head).to.deep.equal(get);
      expect(head.status).to.equal(200);
    });

    it("answers 405 with Allow to every other method", async () => {
      for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
        const answer = readAnswer(await requestMetadata({ method, headers: [["Content-Type", "application/json"]], body: "{}" }));
        const body = { error: "method_not_allowed", error_description: "protected resource metadata supports only GET and HEAD" };
        expect(answer, method).to.deep.equal({ status: 405, headers: jsonAnswerHeaders(body, { allow: "GET, HEAD" }), body });
      }
    });

    it("treats look-alike paths as ordinary protected requests: 401, no document", async () => {
      for (const path of ["/.well-known/oauth-protected-resource-evil", "/.well-known/oauth-protected-resourcemcp", "/mcp/.well-known/oauth-protected-resource"]) {
        const answer = readAnswer(await requestMetadata({ path }, { resource: MCP_RESOURCE }));
        expect(answer.status, path).to.equal(401);
        expect(answer.body, path).to.deep.equal({ error: "unauthorized", error_description: "no bearer token in the request" });
      }
    });
  });
}
