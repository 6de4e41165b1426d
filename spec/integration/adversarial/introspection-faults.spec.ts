import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { readResponseHeader, startGateDriver, summarizeOutcome, type GateDriver } from "../../support/gate-driver";
import { MCP_RESOURCE } from "../../support/gate-requests";
import { IntrospectionServer, type IntrospectionFault } from "../../support/introspection-server";
import { JwksServer } from "../../support/jwks-server";
import { createSigningKey, signAccessToken, type TestSigningKey } from "../../support/token-factory";

const UNAVAILABLE = "503 temporarily_unavailable from plugin";
const INVALID_TOKEN = "401 invalid_token from plugin";
/** Opaque tokens being introspected at once per endpoint in the plugin server (MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT). */
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
  let key: TestSigningKey;
  let jwks: JwksServer;

  before(async () => {
    key = await createSigningKey("ES256", "flood-key");
    jwks = await JwksServer.start([key.publicJwk]);
    // Kong's own call timeout stays far above http_timeout: a late answer would show as a fail-open.
    gate = await startGateDriver({ authorization_servers: [{ url: "http://127.0.0.1:9", audience: MCP_RESOURCE }] }, { callTimeoutMs: 5_000 });
  });

  after(async () => {
    await gate?.close();
    await Promise.all(servers.map((server) => server.close()));
    await jwks?.close();
  });

  /** A fresh introspection endpoint guarding /mcp (for opaque tokens unless `mode` says otherwise), failing with `fault`. */
  async function guardWith(fault: IntrospectionFault | undefined, settings: Record<string, unknown> = {}, mode = "opaque"): Promise<IntrospectionServer> {
    const server = await IntrospectionServer.start();
    servers.push(server);
    server.fault = fault;
    gate.configure({
      authorization_servers: [
        {
          url: server.url,
          audience: MCP_RESOURCE,
          jwks_uri: jwks.jwksUri,
          introspection: mode,
          introspection_endpoint: "/introspect",
          client_id: server.clientId,
          client_secret: server.clientSecret,
        },
      ],
      ...settings,
    });
    return server;
  }

  /** `count` fresh JWTs of `server`, validly signed for the resource, which it answers active. */
  async function issueJwts(server: IntrospectionServer, count: number): Promise<string[]> {
    const jwts = await Promise.all(Array.from({ length: count }, () => signAccessToken(key, { issuer: server.url, audience: MCP_RESOURCE, claims: { jti: randomBytes(8).toString("hex") } })));
    for (const jwt of jwts) server.activate(jwt, { aud: MCP_RESOURCE });
    return jwts;
  }

  const randomTokens = (count: number) => Array.from({ length: count }, () => randomBytes(32).toString("base64url"));

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

  it(`keeps the revocation checks of valid JWTs out of reach of a flood of unknown opaque tokens holding all ${MAX_IN_FLIGHT} opaque calls (introspection always)`, async () => {
    // Unknown tokens are answered after http_timeout, so the flood holds its calls until they time out.
    const slow = await guardWith({ kind: "delay", ms: 10_000, unknownOnly: true }, { http_timeout: 3_000 }, "always");
    const flood = Promise.all(randomTokens(300).map(answerTo));
    // Bounded wait until the flood holds every opaque call the endpoint may get (no timing is asserted).
    for (let attempt = 0; slow.requestCount < MAX_IN_FLIGHT && attempt < 150; attempt++) await sleep(20);
    expect(slow.requestCount, "the flood holds the opaque budget").to.equal(MAX_IN_FLIGHT);
    const jwts = await issueJwts(slow, 5);
    expect(Object.fromEntries(await answerAll(jwts))).to.deep.equal({ proceed: 5 });
    expect(slow.issuedTokenRequestCount, "one revocation check per JWT").to.equal(5);
    expect(Object.fromEntries(countAnswers(await flood))).to.deep.equal({ [UNAVAILABLE]: 300 });
  });

  it("sends no opaque token anywhere with introspection jwt, while still checking JWTs for revocation", async () => {
    const server = await guardWith(undefined, {}, "jwt");
    const opaque = server.issue({ aud: MCP_RESOURCE });
    expect(await answerAll([opaque, ...randomTokens(300)])).to.deep.equal(new Map([[INVALID_TOKEN, 301]]));
    expect(server.requestCount).to.equal(0);
    const [active, revoked] = await issueJwts(server, 2);
    server.revoke(revoked!);
    expect([await answerTo(active!), await answerTo(revoked!)]).to.deep.equal(["proceed", INVALID_TOKEN]);
    expect(server.requestCount).to.equal(2);
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
