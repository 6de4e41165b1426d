import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { readResponseHeader, startGateDriver, summarizeOutcome, type GateDriver } from "../../support/gate-driver";
import { MCP_RESOURCE } from "../../support/gate-requests";
import { IntrospectionServer, type IntrospectionFault } from "../../support/introspection-server";

const UNAVAILABLE = "503 temporarily_unavailable from plugin";
/** Tokens being introspected at once in the plugin server (MAX_INTROSPECTIONS_IN_FLIGHT). */
const MAX_IN_FLIGHT = 64;

function countAnswers(answers: readonly string[]): Map<string, number> {
  const tally = new Map<string, number>();
  for (const answer of answers) tally.set(answer, (tally.get(answer) ?? 0) + 1);
  return tally;
}

describe("adversarial: introspection endpoint faults through Kong and the real plugin server", function () {
  this.timeout(60_000);
  const servers: IntrospectionServer[] = [];
  let gate: GateDriver;

  before(async () => {
    // Kong's own call timeout stays far above http_timeout: a late answer would show as a fail-open.
    gate = await startGateDriver({ authorization_servers: [{ url: "http://127.0.0.1:9", audience: MCP_RESOURCE }] }, { callTimeoutMs: 5_000 });
  });

  after(async () => {
    await gate?.close();
    await Promise.all(servers.map((server) => server.close()));
  });

  /** A fresh introspection endpoint guarding /mcp for opaque tokens, failing with `fault`. */
  async function guardWith(fault: IntrospectionFault | undefined, settings: Record<string, unknown> = {}): Promise<IntrospectionServer> {
    const server = await IntrospectionServer.start();
    servers.push(server);
    server.fault = fault;
    gate.configure({
      authorization_servers: [
        { url: server.url, audience: MCP_RESOURCE, introspection: "opaque", introspection_endpoint: "/introspect", client_id: server.clientId, client_secret: server.clientSecret },
      ],
      ...settings,
    });
    return server;
  }

  async function answerTo(token: string): Promise<string> {
    const outcome = await gate.send({ method: "GET", headers: [["Authorization", `Bearer ${token}`]] });
    expect(outcome.failOpen, "answered within Kong's call timeout").to.equal(undefined);
    return summarizeOutcome(outcome);
  }

  const answerAll = async (tokens: readonly string[]) => countAnswers(await Promise.all(tokens.map(answerTo)));

  it("answers 503 with Retry-After and no challenge (never 401, which would start a login loop) when the endpoint is down", async () => {
    const down = await guardWith(undefined);
    const token = down.issue({ aud: MCP_RESOURCE });
    await down.close();
    const outcome = await gate.send({ method: "GET", headers: [["Authorization", `Bearer ${token}`]] });
    expect(summarizeOutcome(outcome)).to.equal(UNAVAILABLE);
    expect(readResponseHeader(outcome, "Retry-After")).to.equal("5");
    expect(readResponseHeader(outcome, "WWW-Authenticate")).to.equal(undefined);
  });

  it("gives up on an endpoint slower than http_timeout: 503 well within Kong's call timeout, one call for 50 concurrent requests and the next ones", async () => {
    const slow = await guardWith({ kind: "delay", ms: 10_000 }, { http_timeout: 300 });
    const token = slow.issue({ aud: MCP_RESOURCE });
    expect(await answerAll(Array.from({ length: 50 }, () => token))).to.deep.equal(new Map([[UNAVAILABLE, 50]]));
    expect(await answerAll(Array.from({ length: 50 }, () => token))).to.deep.equal(new Map([[UNAVAILABLE, 50]]));
    expect(slow.requestCount).to.equal(1);
  });

  it("answers 503 to every unusable answer, asking once per token for 20 concurrent requests", async () => {
    for (const fault of [
      { kind: "status", status: 500 },
      { kind: "status", status: 401, body: '{"error":"invalid_client"}' },
      { kind: "redirect", location: "http://127.0.0.1:9/introspect" },
      { kind: "body", body: "<html>sign in</html>" },
      { kind: "body", body: '{"active":true,"active":false}' },
      { kind: "body", body: '{"aud":"https://mcp.example.com/mcp"}' },
      { kind: "body", body: JSON.stringify({ active: true, padding: "x".repeat(70 * 1024) }) },
    ] as const) {
      const broken = await guardWith(fault);
      const token = broken.issue({ aud: MCP_RESOURCE });
      expect(await answerAll(Array.from({ length: 20 }, () => token)), JSON.stringify(fault).slice(0, 60)).to.deep.equal(new Map([[UNAVAILABLE, 20]]));
      expect(broken.requestCount, JSON.stringify(fault).slice(0, 60)).to.equal(1);
    }
  });

  it(`keeps at most ${MAX_IN_FLIGHT} introspections open against a flood of 300 distinct unknown tokens on a slow endpoint`, async () => {
    const slow = await guardWith({ kind: "delay", ms: 10_000 }, { http_timeout: 1_000 });
    const tokens = Array.from({ length: 300 }, () => randomBytes(32).toString("base64url"));
    expect(await answerAll(tokens)).to.deep.equal(new Map([[UNAVAILABLE, 300]]));
    expect(slow.requestCount).to.be.within(1, MAX_IN_FLIGHT);
  });

  it("recovers once the endpoint answers again: other tokens at once, a token refused for the fault after its Retry-After", async () => {
    const flaky = await guardWith({ kind: "status", status: 503 });
    const token = flaky.issue({ aud: MCP_RESOURCE });
    expect(await answerTo(token)).to.equal(UNAVAILABLE);
    flaky.fault = undefined;
    expect(await answerTo(flaky.issue({ aud: MCP_RESOURCE }))).to.equal("proceed");
    let answer = await answerTo(token);
    expect(answer, "the failure is remembered for its token").to.equal(UNAVAILABLE);
    // Bounded wait for the remembered failure to lapse (no timing is asserted, only the answer after it).
    for (let attempt = 0; answer !== "proceed" && attempt < 80; attempt++) {
      await sleep(100);
      answer = await answerTo(token);
    }
    expect(answer).to.equal("proceed");
    expect(flaky.requestCount).to.equal(3);
  });
});
