import { expect } from "chai";
import type { KongRequest, Outcome } from "../../../kong/driver";
import { measureLoad, readResidentMemoryMiB } from "../../bench/load-driver";
import { signTokenPool } from "../../bench/token-pool";
import { MCP_PATH, startGateDriver, summarizeOutcome, type GateDriver } from "../../support/gate-driver";
import { MCP_RESOURCE } from "../../support/gate-requests";
import { JwksServer } from "../../support/jwks-server";
import { TokenLedger } from "../../support/token-ledger";
import { createSigningKey, encodeSegment, type TestSigningKey } from "../../support/token-factory";

const FLOOD = 100_000;
/** Past V8's young-generation growth and the first compilations, so that the floods measure what they leave behind. */
const WARM_UP = 10_000;
const CONCURRENCY = 32;
const TOKEN_CACHE_SIZE = 1000;
/** Generous: the plugin server's live heap stays near 10 MB; growth beyond this means something is kept per request. */
const MAX_GROWTH_MIB = 60;

describe("adversarial: floods through Kong and the real plugin server", function () {
  this.timeout(600_000);
  const ledger = new TokenLedger();
  let jwks: JwksServer;
  let key: TestSigningKey;
  let gate: GateDriver;
  let pid: number;
  let baselineMiB: number;

  before(async () => {
    key = await createSigningKey("EdDSA", "flood-key");
    jwks = await JwksServer.start([key.publicJwk]);
    gate = await startGateDriver({ authorization_servers: [{ url: jwks.url, audience: MCP_RESOURCE }], resource: MCP_RESOURCE, token_cache_size: TOKEN_CACHE_SIZE });
    pid = gate.driver.serverPid as number;
  });

  after(async () => {
    await gate?.close();
    await jwks?.close();
  });

  const bearer = (token: string): KongRequest => ({ method: "GET", path: MCP_PATH, headers: [["Authorization", `Bearer ${token}`]] });

  /** Distinct valid tokens of the gate's issuer (or of `issuer`), each recorded in the ledger. */
  function signTokens(count: number, issuer = jwks.url): string[] {
    return signTokenPool(key, count, { issuer, audience: MCP_RESOURCE, scope: "mcp:tools", expiresInSeconds: 3600 }).map((token) => ledger.add(token));
  }

  /**
   * `count` rejected requests (a multiple of 4), four kinds in turn: no token, a forged token (a
   * genuine signature over other claims), a token of an unknown issuer, a malformed credential;
   * and the answers they must get. Each token is distinct, so no verdict comes from the cache.
   */
  function buildRejections(count: number): { requestAt: (index: number) => KongRequest; answers: Map<string, number> } {
    const quarter = count / 4;
    const [header, , signature] = (signTokens(1)[0] as string).split(".") as [string, string, string];
    const expiry = Math.floor(Date.now() / 1000) + 3600;
    const tokenWith = (iss: string, slot: number) => ledger.add(`${header}.${encodeSegment({ iss, aud: MCP_RESOURCE, sub: `mallory-${slot}`, scope: "mcp:admin", exp: expiry })}.${signature}`);
    const kinds: ((slot: number) => KongRequest)[] = [
      () => ({ method: "POST", path: MCP_PATH, headers: [["Content-Type", "application/json"]], body: '{"jsonrpc":"2.0","id":1,"method":"initialize"}' }),
      (slot) => bearer(tokenWith(jwks.url, slot)),
      (slot) => bearer(tokenWith("https://evil.example.com", slot)),
      (slot) => ({ method: "GET", path: MCP_PATH, headers: [["Authorization", `Bearer ${slot} ${slot}`]] }),
    ];
    return {
      requestAt: (index) => (kinds[index % 4] as (slot: number) => KongRequest)(Math.floor(index / 4)),
      answers: new Map([
        ["401 unauthorized from plugin", quarter],
        ["401 invalid_token from plugin", 2 * quarter],
        ["400 invalid_request from plugin", quarter],
      ]),
    };
  }

  /** Runs `count` requests, each answer watched by the ledger; checks the tally of answers and returns requests per second. */
  async function flood(count: number, requestAt: (index: number) => KongRequest, answers: Map<string, number>): Promise<number> {
    const tally = new Map<string, number>();
    const { requestsPerSecond } = await measureLoad(gate.driver, requestAt, count, CONCURRENCY, (outcome: Outcome) => {
      const answer = summarizeOutcome(outcome);
      tally.set(answer, (tally.get(answer) ?? 0) + 1);
      ledger.watch(outcome);
    });
    expect(tally).to.deep.equal(answers);
    return requestsPerSecond;
  }

  it(`keeps the plugin server's memory bounded over ${FLOOD.toLocaleString("en")} rejections and ${FLOOD.toLocaleString("en")} distinct valid tokens`, async () => {
    const warmUpRejections = buildRejections(WARM_UP / 2);
    const warmUpTokens = signTokens(WARM_UP / 2);
    await flood(WARM_UP / 2, warmUpRejections.requestAt, warmUpRejections.answers);
    await flood(WARM_UP / 2, (index) => bearer(warmUpTokens[index] as string), new Map([["proceed", WARM_UP / 2]]));
    baselineMiB = await readResidentMemoryMiB(pid);

    const rejections = buildRejections(FLOOD);
    const rejectionsPerSecond = await flood(FLOOD, rejections.requestAt, rejections.answers);
    const afterRejectionsMiB = await readResidentMemoryMiB(pid);

    const tokens = signTokens(FLOOD);
    const validPerSecond = await flood(FLOOD, (index) => bearer(tokens[index] as string), new Map([["proceed", FLOOD]]));
    const afterValidMiB = await readResidentMemoryMiB(pid);

    const growth = (mib: number) => `${mib.toFixed(1)} MiB (${mib >= baselineMiB ? "+" : ""}${(mib - baselineMiB).toFixed(1)})`;
    console.log(`      plugin server RSS after ${WARM_UP.toLocaleString("en")} warm-up requests: ${baselineMiB.toFixed(1)} MiB`);
    console.log(`      after ${FLOOD.toLocaleString("en")} rejections (${Math.round(rejectionsPerSecond)} req/s): ${growth(afterRejectionsMiB)}`);
    console.log(`      after ${FLOOD.toLocaleString("en")} distinct valid tokens, token_cache_size ${TOKEN_CACHE_SIZE} (${Math.round(validPerSecond)} req/s): ${growth(afterValidMiB)}`);
    expect(gate.driver.serverPid).to.equal(pid);
    expect(afterRejectionsMiB - baselineMiB).to.be.lessThan(MAX_GROWTH_MIB);
    expect(afterValidMiB - baselineMiB).to.be.lessThan(MAX_GROWTH_MIB);
  });

  it("logs no token and echoes none in any answer", () => {
    expect(ledger.size).to.be.greaterThan(1.5 * FLOOD);
    expect(ledger.findLeaksIn(gate.driver)).to.deep.equal([]);
  });
});
