import { expect } from "chai";
import { SchemaViolationError } from "../../../kong/driver";
import {
  expectProxied,
  expectRefusedToken,
  jsonAnswerHeaders,
  readAnswer,
  routeToIssuers,
  sendToolsList,
  startTestIssuer,
  type TestIssuer,
} from "../../support/gate-requests";
import type { JwksFault } from "../../support/jwks-server";
import { PluginServerClock } from "../../support/plugin-server-clock";
import { PLUGIN_SERVER_IMPLEMENTATIONS, startBuiltPluginDriver, type DriverFixture } from "../../support/plugin-server-fixture";
import { createSigningKey, type TestSigningKey } from "../../support/token-factory";

const KEYS_UNAVAILABLE = { error: "temporarily_unavailable", error_description: "the authorization server's signing keys are temporarily unavailable" };
const NO_MATCHING_KEY = "no signing key of the authorization server matches the token";
/** The smallest jwks_refetch_cooldown Kong accepts (seconds); the tests move the server's clock past it. */
const COOLDOWN_FLOOR = 1;

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`mcp-oauth2 key sets: availability, issuers, rotation (${implementation} plugin server)`, () => {
    let fixture: DriverFixture;
    let clock: PluginServerClock;
    let keys: [TestSigningKey, TestSigningKey, TestSigningKey];
    const issuers: TestIssuer[] = [];

    before(async () => {
      keys = await Promise.all([createSigningKey("ES256", "first-key"), createSigningKey("ES256", "second-key"), createSigningKey("ES256", "third-key")]);
      clock = PluginServerClock.create();
      fixture = await startBuiltPluginDriver(implementation, { env: clock.env });
    });
    afterEach(async () => {
      await Promise.all(issuers.splice(0).map((issuer) => issuer.jwks.close()));
    });
    after(async () => {
      await fixture?.close();
      clock?.remove();
    });

    /** An issuer of this test publishing `published` (by default the first key), closed after it. */
    async function startIssuer(published: readonly TestSigningKey[] = [keys[0]]): Promise<TestIssuer> {
      const issuer = await startTestIssuer(published);
      issuers.push(issuer);
      return issuer;
    }

    function routeTo(servers: readonly TestIssuer[], settings: Record<string, unknown> = {}): void {
      routeToIssuers(fixture.driver, servers, settings);
    }

    describe("503 with Retry-After when no key can decide (never 401: clients would loop through logins)", () => {
      const faults: Array<[string, JwksFault | "closed"]> = [
        ["refuses connections", "closed"],
        ["answers HTTP 500", { kind: "status", status: 500 }],
        ["answers slower than http_timeout", { kind: "delay", ms: 5000 }],
        ["answers something that is not JSON", { kind: "body", body: "<html>maintenance</html>" }],
        ["publishes only an encryption key", { kind: "body", body: JSON.stringify({ keys: [{ kty: "EC", crv: "P-256", kid: "encryption-key", use: "enc" }] }) }],
      ];
      for (const [what, fault] of faults) {
        it(`when the JWKS ${what}`, async () => {
          const issuer = await startIssuer();
          routeTo([issuer], { http_timeout: 200, jwks_refetch_cooldown: COOLDOWN_FLOOR });
          const token = await issuer.issue(keys[0]);
          if (fault === "closed") await issuer.jwks.close();
          else issuer.jwks.fault = fault;
          const outcome = await sendToolsList(fixture.driver, token);
          expect(readAnswer(outcome)).to.deep.equal({ status: 503, headers: jsonAnswerHeaders(KEYS_UNAVAILABLE, { "retry-after": "1" }), body: KEYS_UNAVAILABLE });
          expect(outcome.logs.map(({ level, message }) => [level, message.startsWith(`mcp-oauth2: 503 on /mcp: JWKS ${issuer.jwks.jwksUri} `)])).to.deep.equal([["err", true]]);
        });
      }

      it("retries after the cooldown only, then serves once the JWKS is back", async () => {
        const issuer = await startIssuer();
        issuer.jwks.fault = { kind: "status", status: 503 };
        routeTo([issuer], { jwks_refetch_cooldown: 30 });
        const token = await issuer.issue(keys[0]);
        const first = readAnswer(await sendToolsList(fixture.driver, token));
        expect(first.status).to.equal(503);
        expect(Number(first.headers["retry-after"])).to.be.within(1, 30);
        expect(readAnswer(await sendToolsList(fixture.driver, token)).status).to.equal(503);
        expect(issuer.jwks.requestCount, "fetches within the cooldown").to.equal(1);

        issuer.jwks.fault = undefined;
        clock.advance(29);
        expect(readAnswer(await sendToolsList(fixture.driver, token)).status, "back, but still within the cooldown").to.equal(503);
        expect(issuer.jwks.requestCount).to.equal(1);
        clock.advance(1);
        expectProxied(await sendToolsList(fixture.driver, token));
        expect(issuer.jwks.requestCount).to.equal(2);
      });
    });

    describe("several authorization servers: a token is checked only against its issuer's keys", () => {
      it("fetches only the JWKS of the token's issuer and names that issuer to other plugins", async () => {
        const first = await startIssuer();
        const second = await startIssuer([keys[1]]);
        routeTo([first, second]);
        const fromFirst = expectProxied(await sendToolsList(fixture.driver, await first.issue(keys[0])));
        expect([first.jwks.requestCount, second.jwks.requestCount]).to.deep.equal([1, 0]);
        const fromSecond = expectProxied(await sendToolsList(fixture.driver, await second.issue(keys[1])));
        expect([first.jwks.requestCount, second.jwks.requestCount]).to.deep.equal([1, 1]);
        expect([fromFirst, fromSecond].map((outcome) => (outcome.ctxShared.mcp_oauth2 as { issuer: string }).issuer)).to.deep.equal([
          first.jwks.url,
          second.jwks.url,
        ]);
      });

      it("refuses a token naming one issuer but signed with the other issuer's key", async () => {
        const first = await startIssuer();
        const second = await startIssuer([keys[1]]);
        routeTo([first, second]);
        expectProxied(await sendToolsList(fixture.driver, await second.issue(keys[1])));
        // keys[1] is trusted, but only for the second issuer: the first issuer's key set has no such key.
        expectRefusedToken(await sendToolsList(fixture.driver, await first.issue(keys[1])), NO_MATCHING_KEY);
        expect([first.jwks.requestCount, second.jwks.requestCount]).to.deep.equal([1, 1]);
      });
    });

    describe("key rotation", () => {
      it("refetches once for a new kid, also when requests carrying it arrive together", async () => {
        const issuer = await startIssuer();
        routeTo([issuer], { jwks_refetch_cooldown: COOLDOWN_FLOOR });
        expectProxied(await sendToolsList(fixture.driver, await issuer.issue(keys[0])));
        expect(issuer.jwks.requestCount).to.equal(1);

        issuer.jwks.keys = [keys[1].publicJwk, keys[0].publicJwk];
        clock.advance(COOLDOWN_FLOOR);
        const rotatedTokens = await Promise.all([issuer.issue(keys[1]), issuer.issue(keys[1]), issuer.issue(keys[1])]);
        const outcomes = await Promise.all(rotatedTokens.map((token) => sendToolsList(fixture.driver, token)));
        outcomes.forEach(expectProxied);
        expect(issuer.jwks.requestCount).to.equal(2);
        expectProxied(await sendToolsList(fixture.driver, await issuer.issue(keys[0])));
        expect(issuer.jwks.requestCount, "the previous key still verifies from the set").to.equal(2);
      });

      it("cannot be saved with jwks_refetch_cooldown 0: forged tokens naming the issuer would drive a fetch per request", async () => {
        const issuer = await startIssuer();
        expect(() => routeTo([issuer], { jwks_refetch_cooldown: 0 })).to.throw(
          SchemaViolationError,
          "schema violation (config.jwks_refetch_cooldown: value should be between 1 and 3600)",
        );
      });

      it("respects jwks_refetch_cooldown: an unknown kid within it is refused without a fetch", async () => {
        const issuer = await startIssuer();
        routeTo([issuer], { jwks_refetch_cooldown: 3600 });
        expectProxied(await sendToolsList(fixture.driver, await issuer.issue(keys[0])));
        issuer.jwks.keys = [keys[1].publicJwk, keys[0].publicJwk];
        for (let attempt = 0; attempt < 3; attempt++) expectRefusedToken(await sendToolsList(fixture.driver, await issuer.issue(keys[1])), NO_MATCHING_KEY);
        expect(issuer.jwks.requestCount).to.equal(1);
      });

      it("keeps verifying with the last good keys while the JWKS fails; only an unknown kid gets 503", async () => {
        const issuer = await startIssuer();
        routeTo([issuer], { jwks_refetch_cooldown: COOLDOWN_FLOOR, http_timeout: 200 });
        expectProxied(await sendToolsList(fixture.driver, await issuer.issue(keys[0])));
        issuer.jwks.fault = { kind: "status", status: 500 };
        clock.advance(COOLDOWN_FLOOR);

        expect(readAnswer(await sendToolsList(fixture.driver, await issuer.issue(keys[2]))).status).to.equal(503);
        expectProxied(await sendToolsList(fixture.driver, await issuer.issue(keys[0])));
        expect(issuer.jwks.requestCount).to.equal(2);
      });
    });
  });
}
