import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import type { HeaderList, KongRequest, Outcome } from "../../../kong/driver";
import { createFaultInjectingPluginDirectory, FAULT_HEADER, type PdkFault } from "../../support/fault-injecting-plugin";
import { startGateDriver, summarizeOutcome, type GateDriver } from "../../support/gate-driver";
import { formatJsonRpc, MCP_RESOURCE } from "../../support/gate-requests";
import { findBuiltPluginsDirectory } from "../../support/plugin-server-fixture";
import { JwksServer } from "../../support/jwks-server";
import { TokenLedger } from "../../support/token-ledger";
import { createSigningKey, signAccessToken, type TestSigningKey } from "../../support/token-factory";

const GUARD_REFUSAL = "503 temporarily_unavailable from native-guard";

describe("adversarial: plugin server faults through Kong", function () {
  this.timeout(60_000);
  const ledger = new TokenLedger();
  let key: TestSigningKey;
  let jwks: JwksServer;
  let validToken: string;
  let forgedToken: string;

  before(async () => {
    key = await createSigningKey("ES256", "faults-key");
    jwks = await JwksServer.start([key.publicJwk]);
    validToken = ledger.add(await signAccessToken(key, { issuer: jwks.url, audience: MCP_RESOURCE, claims: { scope: "mcp:tools" } }));
    forgedToken = ledger.add(`${validToken.slice(0, validToken.lastIndexOf(".") + 1)}${"A".repeat(86)}`);
  });

  after(() => jwks?.close());

  describe("the plugin server killed mid-request and restarted, behind the native guard", () => {
    let gate: GateDriver;
    let slowJwks: JwksServer;

    before(async () => {
      slowJwks = await JwksServer.start([key.publicJwk]);
      slowJwks.fault = { kind: "delay", ms: 30_000 };
      gate = await startGateDriver(
        { authorization_servers: [{ url: jwks.url, audience: MCP_RESOURCE }, { url: slowJwks.url, audience: MCP_RESOURCE }], http_timeout: 25_000 },
        { nativeGuard: true, callTimeoutMs: 10_000 },
      );
    });

    after(async () => {
      await gate?.close();
      await slowJwks?.close();
    });

    const send = async (token: string | undefined) => ledger.watch(await gate.send({ method: "GET", headers: token === undefined ? [] : [["Authorization", `Bearer ${token}`]] }));

    it("refuses the request in flight and every request during the outage (503), then decides correctly after the restart", async () => {
      expect(summarizeOutcome(await send(validToken))).to.equal("proceed");
      const pidBefore = gate.driver.serverPid;
      // A request the plugin is still deciding: it waits for a JWKS that answers late.
      const inFlight = send(ledger.add(await signAccessToken(key, { issuer: slowJwks.url, audience: MCP_RESOURCE })));
      for (let waited = 0; slowJwks.requestCount === 0 && waited < 5_000; waited += 10) await sleep(10);
      expect(slowJwks.requestCount, "the plugin is fetching the slow JWKS").to.equal(1);
      await gate.driver.killServer();
      const killed = await inFlight;
      expect(killed.failOpen?.cause).to.equal("no data");
      expect(summarizeOutcome(killed)).to.equal(GUARD_REFUSAL);

      const duringOutage = await Promise.all([send(validToken), send(forgedToken), send(undefined)]);
      expect(duringOutage.map(summarizeOutcome)).to.deep.equal([GUARD_REFUSAL, GUARD_REFUSAL, GUARD_REFUSAL]);
      expect(duringOutage.every((outcome) => outcome.failOpen !== undefined)).to.equal(true);

      await gate.driver.restartServer();
      expect(gate.driver.serverPid).not.to.equal(pidBefore);
      const first = await send(forgedToken);
      expect(first.retriedAfterNoPluginInstance, "Kong's instance id was unknown to the new server").to.equal(true);
      expect(summarizeOutcome(first)).to.equal("401 invalid_token from plugin");
      expect([await send(validToken), await send(undefined)].map(summarizeOutcome)).to.deep.equal(["proceed", "401 unauthorized from plugin"]);
      expect(gate.driver.instanceEvents.filter((event) => event.kind !== "closed").map((event) => event.kind)).to.deep.equal(["started", "reset", "started"]);
    });

    it("logs no token", () => {
      expect(ledger.findLeaksIn(gate.driver)).to.deep.equal([]);
    });
  });

  describe("exceptions and odd answers from the PDK, injected into the real plugin by a wrapper", () => {
    let gate: GateDriver;
    let plugins: { path: string; remove(): void };
    let serverPid: number | undefined;
    let downIssuerToken: string;
    const downIssuer = "http://127.0.0.1:9";

    before(async () => {
      plugins = createFaultInjectingPluginDirectory(join(findBuiltPluginsDirectory(), "mcp-oauth2"));
      // No native guard: a phase that ends without an answer shows as "proceed unverified".
      gate = await startGateDriver(
        {
          authorization_servers: [{ url: jwks.url, audience: MCP_RESOURCE }, { url: downIssuer, audience: MCP_RESOURCE }],
          enable_acl: true,
          scope_method_mapping: [{ scope: "mcp:tools", methods: ["initialize", "tools/*"] }],
          upstream_headers: [{ header: "X-MCP-Subject", claim: "sub" }],
        },
        { pluginsDirectory: plugins.path, callTimeoutMs: 10_000 },
      );
      serverPid = gate.driver.serverPid;
      downIssuerToken = ledger.add(await signAccessToken(key, { issuer: downIssuer, audience: MCP_RESOURCE }));
    });

    after(async () => {
      await gate?.close();
      plugins?.remove();
    });

    const json: HeaderList = [["Content-Type", "application/json"]];
    const bearer = (token: string): HeaderList => [["Authorization", `Bearer ${token}`]];

    /** Requests that together make the plugin call every PDK method it uses, with their usual answers. */
    const scenarios = (): Record<string, { request: Partial<KongRequest>; answer: string }> => ({
      "an allowed call": { request: { headers: [...bearer(validToken), ...json], body: formatJsonRpc("tools/list") }, answer: "proceed" },
      "no token": { request: { headers: json, body: formatJsonRpc("tools/call", { name: "a" }) }, answer: "401 unauthorized from plugin" },
      "a forged token": { request: { headers: [...bearer(forgedToken), ...json], body: formatJsonRpc("tools/list") }, answer: "401 invalid_token from plugin" },
      "unreachable keys": { request: { headers: [...bearer(downIssuerToken), ...json], body: formatJsonRpc("tools/list") }, answer: "503 temporarily_unavailable from plugin" },
      "a denied call": { request: { headers: [...bearer(validToken), ...json], body: formatJsonRpc("resources/read", { uri: "a" }) }, answer: "403 insufficient_scope from plugin" },
      "an empty POST": { request: { headers: bearer(validToken), body: "" }, answer: "400 jsonrpc -32600 from plugin" },
    });
    async function send(request: Partial<KongRequest>, fault?: PdkFault): Promise<Outcome> {
      const headers: HeaderList = [...(request.headers ?? []), ...(fault === undefined ? [] : [[FAULT_HEADER, JSON.stringify(fault)] as [string, string]])];
      return ledger.watch(await gate.send({ ...request, headers }));
    }

    /** PDK methods the plugin called in each scenario (without the wrapper's own get_header and the final exit). */
    async function mapPdkCalls(): Promise<Map<string, string[]>> {
      const calls = new Map<string, string[]>();
      for (const [name, { request, answer }] of Object.entries(scenarios())) {
        const outcome = await send(request);
        expect(summarizeOutcome(outcome), name).to.equal(answer);
        calls.set(name, [...new Set(outcome.pdkCalls.map((pdkCall) => pdkCall.method))].filter((method) => method !== "kong.request.get_header" && method !== "kong.response.exit"));
      }
      return calls;
    }

    it("never passes when any PDK call the plugin makes fails or throws: 5xx, or the refusal it was already making", async () => {
      const calls = await mapPdkCalls();
      const covered = new Set([...calls.values()].flat());
      expect([...covered].sort()).to.include.members([
        "kong.ctx.shared.set",
        "kong.log.err",
        "kong.log.notice",
        "kong.log.warn",
        "kong.request.get_forwarded_host",
        "kong.request.get_forwarded_port",
        "kong.request.get_forwarded_scheme",
        "kong.request.get_headers",
        "kong.request.get_method",
        "kong.request.get_path",
        "kong.request.get_raw_body",
        "kong.service.request.clear_header",
        "kong.service.request.set_header",
      ]);
      const wrong: string[] = [];
      for (const [name, { request, answer: usual }] of Object.entries(scenarios())) {
        for (const method of calls.get(name) ?? []) {
          for (const mode of ["reject", "throw"] as const) {
            const answer = summarizeOutcome(await send(request, { method, mode }));
            // A refusal may survive a failure that only costs its details (the challenge's scope hint).
            const refusedAnyway = answer === usual && usual !== "proceed";
            if (!refusedAnyway && !/^5\d\d .* from plugin$/.test(answer)) wrong.push(`${name}, ${method} ${mode}: ${answer}`);
          }
        }
      }
      expect(wrong).to.deep.equal([]);
    });

    it("never passes unverified, nor passes what it would refuse, when the PDK answers something odd", async () => {
      const calls = await mapPdkCalls();
      const oddValues = [undefined, null, 42, true, "", "x".repeat(100_000), [], {}, { authorization: [42] }, { authorization: { bearer: validToken } }];
      const readers = new Set(["kong.request.get_path", "kong.request.get_method", "kong.request.get_headers", "kong.request.get_raw_body", "kong.request.get_forwarded_scheme", "kong.request.get_forwarded_host", "kong.request.get_forwarded_port"]);
      const wrong: string[] = [];
      let tried = 0;
      for (const [name, { request, answer: usual }] of Object.entries(scenarios())) {
        for (const method of (calls.get(name) ?? []).filter((candidate) => readers.has(candidate))) {
          const faults: PdkFault[] = [...oddValues.map((value): PdkFault => ({ method, mode: "answer", value })), { method, mode: "hostile-object" }];
          for (const fault of faults) {
            const answer = summarizeOutcome(await send(request, fault));
            tried += 1;
            const refused = / from plugin$/.test(answer);
            if (!refused && answer !== usual) wrong.push(`${name}, ${method} answering ${JSON.stringify(fault).slice(0, 80)}: ${answer}`);
          }
        }
      }
      expect(tried).to.be.greaterThan(100);
      expect(wrong).to.deep.equal([]);
    });

    it("answers 500, never passes, when compiling its configuration throws something unexpected", async () => {
      // A hierarchy thousands of scopes deep overflows the compiler's stack (a RangeError, not a ConfigError).
      const depth = 5000;
      gate.configure({
        authorization_servers: [{ url: jwks.url, audience: MCP_RESOURCE }],
        scope_hierarchy: Array.from({ length: depth }, (_, index) => ({ scope: `s${index}`, implies: [`s${index + 1}`] })),
      });
      const outcomes = [await send({ method: "GET", headers: bearer(validToken) }), await send({ method: "GET" })];
      expect(outcomes.map(summarizeOutcome)).to.deep.equal(["500 server_error from plugin", "500 server_error from plugin"]);
      expect(outcomes[0]?.logs.map((entry) => entry.message)).to.deep.equal(["mcp-oauth2: invalid configuration: config: RangeError: Maximum call stack size exceeded"]);
    });

    it("kept its plugin server, and logs no token", () => {
      expect(gate.driver.serverPid).to.equal(serverPid);
      expect(ledger.findLeaksIn(gate.driver)).to.deep.equal([]);
    });
  });
});
