import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { readResponseHeader, startGateDriver, summarizeOutcome, type GateDriver } from "../../support/gate-driver";
import { MCP_RESOURCE } from "../../support/gate-requests";
import { JwksServer } from "../../support/jwks-server";
import { TokenLedger } from "../../support/token-ledger";
import { createSigningKey, signAccessToken, type TestSigningKey } from "../../support/token-factory";

const UNAVAILABLE = "503 temporarily_unavailable from plugin";
const COOLDOWN_SECONDS = 1;

/** Counts one more `answer` in `tally`. */
function countAnswer(tally: Map<string, number>, answer: string): void {
  tally.set(answer, (tally.get(answer) ?? 0) + 1);
}

describe("adversarial: JWKS faults through Kong and the real plugin server", function () {
  this.timeout(60_000);
  const ledger = new TokenLedger();
  const servers: JwksServer[] = [];
  let gate: GateDriver;
  let currentKey: TestSigningKey;
  let rotatedKey: TestSigningKey;

  before(async () => {
    [currentKey, rotatedKey] = await Promise.all([createSigningKey("ES256", "current"), createSigningKey("ES256", "rotated")]);
    // Kong's own call timeout stays far above http_timeout: a late answer would show as a fail-open.
    gate = await startGateDriver({ authorization_servers: [{ url: "http://127.0.0.1:9", audience: MCP_RESOURCE }] }, { callTimeoutMs: 5_000 });
  });

  after(async () => {
    await gate?.close();
    await Promise.all(servers.map((server) => server.close()));
  });

  /** A fresh JWKS server (the plugin keeps key sets per URL for the process's life) guarding /mcp. */
  async function guardWith(keys: JwksServer["keys"], settings: Record<string, unknown> = {}): Promise<JwksServer> {
    const server = await JwksServer.start(keys);
    servers.push(server);
    gate.configure({ authorization_servers: [{ url: server.url, audience: MCP_RESOURCE }], jwks_refetch_cooldown: COOLDOWN_SECONDS, ...settings });
    return server;
  }

  async function tokenFrom(server: JwksServer, key: TestSigningKey): Promise<string> {
    return ledger.add(await signAccessToken(key, { issuer: server.url, audience: MCP_RESOURCE }));
  }

  async function send(token: string) {
    const outcome = ledger.watch(await gate.send({ method: "GET", headers: [["Authorization", `Bearer ${token}`]] }));
    expect(outcome.failOpen, "answered within Kong's call timeout").to.equal(undefined);
    return outcome;
  }

  async function answerTo(token: string): Promise<string> {
    return summarizeOutcome(await send(token));
  }

  async function answerConcurrently(tokens: readonly string[]): Promise<Map<string, number>> {
    const tally = new Map<string, number>();
    for (const answer of await Promise.all(tokens.map(answerTo))) countAnswer(tally, answer);
    return tally;
  }

  it("answers 503 with Retry-After (never 401, which would start a login loop) when the JWKS server is down", async () => {
    const down = await guardWith([currentKey.publicJwk], { jwks_refetch_cooldown: 7 });
    const token = await tokenFrom(down, currentKey);
    await down.close();
    servers.splice(servers.indexOf(down), 1);
    const outcome = await send(token);
    expect(summarizeOutcome(outcome)).to.equal(UNAVAILABLE);
    expect(readResponseHeader(outcome, "Retry-After")).to.equal("7");
    expect(readResponseHeader(outcome, "WWW-Authenticate")).to.equal(undefined);
  });

  it("gives up on a JWKS slower than http_timeout: 503 well within Kong's call timeout, one attempt for 50 concurrent requests", async () => {
    const slow = await guardWith([currentKey.publicJwk], { http_timeout: 300, jwks_refetch_cooldown: 60 });
    slow.fault = { kind: "delay", ms: 10_000 };
    const tokens = await Promise.all(Array.from({ length: 50 }, () => tokenFrom(slow, currentKey)));
    expect(await answerConcurrently(tokens)).to.deep.equal(new Map([[UNAVAILABLE, 50]]));
    expect(await answerTo(tokens[0] as string)).to.equal(UNAVAILABLE);
    expect(slow.requestCount).to.equal(1);
  });

  it("answers 503 to every unusable JWKS answer: HTTP 500, not JSON, no keys array, no signing key, too large", async () => {
    for (const fault of [
      { kind: "status", status: 500 },
      { kind: "status", status: 404 },
      { kind: "body", body: "<html>not json</html>" },
      { kind: "body", body: '{"keys":"all of them"}' },
      { kind: "body", body: '{"keys":[]}' },
      { kind: "body", body: JSON.stringify({ keys: [{ kty: "oct", kid: "current", k: "c2VjcmV0" }, { ...currentKey.publicJwk, use: "enc" }] }) },
      { kind: "body", body: JSON.stringify({ keys: [currentKey.publicJwk], padding: "x".repeat(600 * 1024) }) },
    ] as const) {
      const broken = await guardWith([currentKey.publicJwk], { jwks_refetch_cooldown: 60 });
      broken.fault = fault;
      const tokens = await Promise.all(Array.from({ length: 20 }, () => tokenFrom(broken, currentKey)));
      expect(await answerConcurrently(tokens), JSON.stringify(fault).slice(0, 60)).to.deep.equal(new Map([[UNAVAILABLE, 20]]));
      expect(broken.requestCount, JSON.stringify(fault).slice(0, 60)).to.equal(1);
    }
  });

  it("fetches at most once per cooldown for 200 concurrent tokens with an unknown kid", async () => {
    const jwks = await guardWith([currentKey.publicJwk], { jwks_refetch_cooldown: 3600 });
    const unknownKid = await Promise.all(Array.from({ length: 200 }, () => tokenFrom(jwks, rotatedKey)));
    const refused = new Map([["401 invalid_token from plugin", 200]]);
    expect(await answerConcurrently(unknownKid)).to.deep.equal(refused);
    expect(await answerConcurrently(unknownKid)).to.deep.equal(refused);
    expect(jwks.requestCount, "the first fetch only, within an hour's cooldown").to.equal(1);
    // The same key set under a one-second cooldown (key sets are kept per URL, whatever the config).
    gate.configure({ authorization_servers: [{ url: jwks.url, audience: MCP_RESOURCE }], jwks_refetch_cooldown: COOLDOWN_SECONDS });
    await sleep(COOLDOWN_SECONDS * 1000 + 100);
    const started = Date.now();
    expect(await answerConcurrently(unknownKid)).to.deep.equal(refused);
    const cooldownsElapsed = Math.ceil((Date.now() - started) / (COOLDOWN_SECONDS * 1000));
    expect(jwks.requestCount - 1, "refetches: at least one, at most one per cooldown").to.be.within(1, cooldownsElapsed);
  });

  it("follows a key set that changes mid-flood: the old key keeps passing, the new one passes once published and fetched", async () => {
    const jwks = await guardWith([currentKey.publicJwk]);
    const [current, rotated] = await Promise.all([
      Promise.all(Array.from({ length: 100 }, () => tokenFrom(jwks, currentKey))),
      Promise.all(Array.from({ length: 100 }, () => tokenFrom(jwks, rotatedKey))),
    ]);
    const total = 1500;
    const rotateAt = 500;
    const currentAnswers = new Map<string, number>();
    const rotatedAnswers = { unpublished: new Map<string, number>(), published: new Map<string, number>() };
    let sent = 0;
    const started = Date.now();
    const worker = async (): Promise<void> => {
      while (sent < total) {
        const index = sent++;
        if (index === rotateAt) jwks.keys = [currentKey.publicJwk, rotatedKey.publicJwk];
        const useRotated = index % 3 === 0;
        const answer = await answerTo((useRotated ? rotated : current)[index % 100] as string);
        // Judged when answered: the rotated key can pass only once the JWKS publishes it.
        if (!useRotated) countAnswer(currentAnswers, answer);
        else countAnswer(jwks.keys.length === 2 ? rotatedAnswers.published : rotatedAnswers.unpublished, answer);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const elapsedSeconds = (Date.now() - started) / 1000;
    expect(currentAnswers).to.deep.equal(new Map([["proceed", total - Math.ceil(total / 3)]]));
    expect([...rotatedAnswers.unpublished.keys()]).to.deep.equal(["401 invalid_token from plugin"]);
    expect([...rotatedAnswers.published.keys()].filter((answer) => answer !== "proceed" && answer !== "401 invalid_token from plugin")).to.deep.equal([]);
    expect(jwks.requestCount, "at most one fetch per cooldown").to.be.at.most(1 + Math.ceil(elapsedSeconds / COOLDOWN_SECONDS));
    await sleep(COOLDOWN_SECONDS * 1000 + 100);
    expect(await answerTo(rotated[1] as string)).to.equal("proceed");
    console.log(`      ${total} requests in ${elapsedSeconds.toFixed(1)} s, ${jwks.requestCount} JWKS fetches; rotated key after publication: ${[...rotatedAnswers.published].map(([answer, n]) => `${n} × ${answer}`).join(", ")}`);
  });

  it("keeps verifying with the last good keys while the JWKS fails, and picks up new keys when it is back", async () => {
    const jwks = await guardWith([currentKey.publicJwk]);
    expect(await answerTo(await tokenFrom(jwks, currentKey))).to.equal("proceed");
    jwks.fault = { kind: "status", status: 500 };
    const rotatedToken = await tokenFrom(jwks, rotatedKey);
    await sleep(COOLDOWN_SECONDS * 1000 + 100);
    expect(await answerTo(rotatedToken), "an unknown kid while the JWKS fails cannot be decided").to.equal(UNAVAILABLE);
    expect(await answerConcurrently(await Promise.all(Array.from({ length: 20 }, () => tokenFrom(jwks, currentKey))))).to.deep.equal(new Map([["proceed", 20]]));
    expect(jwks.requestCount).to.equal(2);
    jwks.fault = undefined;
    jwks.keys = [currentKey.publicJwk, rotatedKey.publicJwk];
    await sleep(COOLDOWN_SECONDS * 1000 + 100);
    expect(await answerTo(rotatedToken)).to.equal("proceed");
    expect(await answerTo(await tokenFrom(jwks, currentKey))).to.equal("proceed");
    expect(jwks.requestCount).to.equal(3);
  });

  it("logs no token and echoes none in any answer", () => {
    expect(ledger.size).to.be.greaterThan(400);
    expect(ledger.findLeaksIn(gate.driver)).to.deep.equal([]);
  });
});
