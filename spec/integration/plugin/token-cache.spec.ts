import { expect } from "chai";
import {
  expectProxied,
  expectRefusedToken,
  listPdkMethods,
  readAnswer,
  routeToIssuers,
  sendToolsList,
  startTestIssuer,
  type TestIssuer,
} from "../../support/gate-requests";
import { PluginServerClock } from "../../support/plugin-server-clock";
import { PLUGIN_SERVER_IMPLEMENTATIONS, startBuiltPluginDriver, type DriverFixture } from "../../support/plugin-server-fixture";
import { createSigningKey, type TestSigningKey } from "../../support/token-factory";

const ALLOWED_WITHOUT_ACL = ["kong.request.get_path", "kong.request.get_headers", "kong.service.request.clear_header", "kong.ctx.shared.set"];
/** The smallest jwks_refetch_cooldown Kong accepts (seconds); the tests move the server's clock past it. */
const COOLDOWN_FLOOR = 1;

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`mcp-oauth2 token cache (${implementation} plugin server)`, () => {
    let fixture: DriverFixture;
    let clock: PluginServerClock;
    let retiringKey: TestSigningKey;
    let currentKey: TestSigningKey;
    let issuer: TestIssuer | undefined;

    before(async () => {
      [retiringKey, currentKey] = await Promise.all([createSigningKey("ES256", "retiring-key"), createSigningKey("ES256", "current-key")]);
      clock = PluginServerClock.create();
      fixture = await startBuiltPluginDriver(implementation, { env: clock.env });
    });
    afterEach(() => issuer?.jwks.close());
    after(async () => {
      await fixture?.close();
      clock?.remove();
    });

    /** A fresh issuer publishing the retiring key, and the gate configured for it with `settings`. */
    async function routeToFreshIssuer(settings: Record<string, unknown>): Promise<TestIssuer> {
      issuer = await startTestIssuer([retiringKey]);
      routeToIssuers(fixture.driver, [issuer], { jwks_refetch_cooldown: COOLDOWN_FLOOR, ...settings });
      return issuer;
    }

    /**
     * Verifies a token signed with the retiring key, then rotates it out: a token of the current
     * key makes the plugin refetch the JWKS, which no longer has the retiring key. From then on,
     * only a remembered verdict can let the first token through.
     */
    async function verifyThenRetireKey(fresh: TestIssuer): Promise<string> {
      const token = await fresh.issue(retiringKey);
      const first = expectProxied(await sendToolsList(fixture.driver, token));
      expect(listPdkMethods(first)).to.deep.equal(ALLOWED_WITHOUT_ACL);
      fresh.jwks.keys = [currentKey.publicJwk];
      clock.advance(COOLDOWN_FLOOR);
      expectProxied(await sendToolsList(fixture.driver, await fresh.issue(currentKey)));
      expect(fresh.jwks.requestCount).to.equal(2);
      return token;
    }

    it("lets a verified token through again without fetching or verifying, in the same 4 round trips", async () => {
      const fresh = await routeToFreshIssuer({});
      const token = await verifyThenRetireKey(fresh);
      const again = expectProxied(await sendToolsList(fixture.driver, token));
      expect(listPdkMethods(again)).to.deep.equal(ALLOWED_WITHOUT_ACL);
      expect(again.ctxShared.mcp_oauth2).to.deep.equal({ subject: "user-1", issuer: fresh.jwks.url, client_id: "mcp-client", scopes: [] });
      expect(fresh.jwks.requestCount).to.equal(2);
    });

    it("verifies every time with token_cache_ttl 0", async () => {
      const fresh = await routeToFreshIssuer({ token_cache_ttl: 0 });
      const token = await verifyThenRetireKey(fresh);
      clock.advance(COOLDOWN_FLOOR);
      expectRefusedToken(await sendToolsList(fixture.driver, token), "no signing key of the authorization server matches the token");
      expect(fresh.jwks.requestCount, "the unknown kid was looked for once more").to.equal(3);
    });

    it("does not reuse verdicts across configurations that verify differently", async () => {
      const fresh = await routeToFreshIssuer({});
      const token = await verifyThenRetireKey(fresh);
      routeToIssuers(fixture.driver, [fresh], { jwks_refetch_cooldown: COOLDOWN_FLOOR, clock_skew: 5 });
      expect(readAnswer(await sendToolsList(fixture.driver, token)).status).to.equal(401);
    });

    it("re-checks exp on every request: a remembered token is refused once it expires, without a fetch", async () => {
      const fresh = await routeToFreshIssuer({ clock_skew: 0 });
      const token = await fresh.issue(retiringKey, { expiresIn: 60 });
      expectProxied(await sendToolsList(fixture.driver, token));
      expectProxied(await sendToolsList(fixture.driver, token));
      clock.advance(61);
      expectRefusedToken(await sendToolsList(fixture.driver, token), "the token has expired");
      expect(fresh.jwks.requestCount).to.equal(1);
    });
  });
}
