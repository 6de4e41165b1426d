import { expect } from "chai";
import { expectProxied, expectRefusedToken, routeThroughGate, sendToolsList, sendUntilRefused } from "../support/gate-requests";
import type { KeycloakServer } from "../../kong/keycloak/keycloak-server";
import { useSeededKeycloak } from "../support/keycloak-fixture";
import { startBuiltPluginDriver, type DriverFixture } from "../support/plugin-server-fixture";

/** The audience the seed realm's Audience mapper writes (kong/keycloak/realm-mcp.json). */
const AUDIENCE = "http://localhost:8000/mcp";
/**
 * Keycloak 26 answers `active: false` to a client that is not in the token's `aud`. The gateway's
 * client is therefore named after the audience the Audience mapper already writes.
 */
const GATEWAY_CLIENT = { clientId: AUDIENCE, secret: "mcp-gateway-secret" };

async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(form).toString() });
}

/** Creates the gateway's confidential client in the realm through the Admin API, or resets it to this shape. */
async function ensureGatewayClient(keycloak: KeycloakServer): Promise<void> {
  const login = await postForm(`${keycloak.baseUrl}/realms/master/protocol/openid-connect/token`, { grant_type: "password", client_id: "admin-cli", ...keycloak.admin });
  expect(login.status, "master realm admin login").to.equal(200);
  const headers = { authorization: `Bearer ${((await login.json()) as { access_token: string }).access_token}`, "content-type": "application/json" };
  const clients = `${keycloak.baseUrl}/admin/realms/mcp/clients`;
  const client = JSON.stringify({ ...GATEWAY_CLIENT, name: "MCP gateway (token introspection)", enabled: true, publicClient: false, standardFlowEnabled: false, directAccessGrantsEnabled: false });
  const created = await fetch(clients, { method: "POST", headers, body: client });
  if (created.status === 201) return;
  expect(created.status, "the gateway client exists already").to.equal(409);
  const [existing] = (await (await fetch(`${clients}?clientId=${encodeURIComponent(GATEWAY_CLIENT.clientId)}`, { headers })).json()) as { id: string }[];
  expect((await fetch(`${clients}/${existing?.id}`, { method: "PUT", headers, body: client })).status).to.equal(204);
}

describe("Keycloak: a JWT refused at the gateway once its user logs out (introspection jwt or always)", function () {
  this.timeout(120_000);
  let keycloak: KeycloakServer;
  let fixture: DriverFixture;
  const issuer = () => `${keycloak.baseUrl}/realms/mcp`;

  before(async function () {
    // The run's Keycloak with the seed realm (skips with the suites' one line where it cannot run).
    keycloak = await useSeededKeycloak(this);
    await ensureGatewayClient(keycloak);
    fixture = await startBuiltPluginDriver("ours");
  });

  after(() => fixture?.close());

  /** alice's tokens from the realm's development client (password grant), with a session to end. */
  async function signInAlice(): Promise<{ accessToken: string; refreshToken: string }> {
    const response = await postForm(`${issuer()}/protocol/openid-connect/token`, { grant_type: "password", client_id: "mcp-dev-cli", username: "alice", password: "alice-password", scope: "mcp:tools" });
    expect(response.status).to.equal(200);
    const body = (await response.json()) as { access_token: string; refresh_token: string };
    return { accessToken: body.access_token, refreshToken: body.refresh_token };
  }

  async function logOut(refreshToken: string): Promise<void> {
    expect((await postForm(`${issuer()}/protocol/openid-connect/logout`, { client_id: "mcp-dev-cli", refresh_token: refreshToken })).status).to.equal(204);
  }

  /** The README's Keycloak configuration, with `introspection` as given and a 1 s token cache. */
  function guard(introspection: "off" | "jwt" | "always"): void {
    routeThroughGate(fixture.driver, {
      authorization_servers: [
        {
          url: issuer(),
          audience: AUDIENCE,
          jwks_uri: "/protocol/openid-connect/certs",
          introspection,
          introspection_endpoint: "/protocol/openid-connect/token/introspect",
          client_id: GATEWAY_CLIENT.clientId,
          client_secret: GATEWAY_CLIENT.secret,
        },
      ],
      resource: AUDIENCE,
      keycloak_compat: true,
      acl_claim: "mcp_scopes",
      token_cache_ttl: 1,
    });
  }

  for (const mode of ["jwt", "always"] as const) {
    it(`lets alice's JWT through while her session lives, and refuses it with 401 once she logs out and the cache lets go (introspection ${mode})`, async () => {
      guard(mode);
      const { accessToken, refreshToken } = await signInAlice();
      const allowed = expectProxied(await sendToolsList(fixture.driver, accessToken));
      expect(allowed.ctxShared.mcp_oauth2).to.deep.include({ issuer: issuer(), client_id: "mcp-dev-cli", scopes: ["mcp:tools"] });
      await logOut(refreshToken);
      expectRefusedToken(await sendUntilRefused(fixture.driver, accessToken), "the token is not active (expired, revoked or unknown)");
    });
  }

  it("without introspection, the logged-out JWT still passes: its signature and exp are all a JWT can tell", async () => {
    guard("off");
    const { accessToken, refreshToken } = await signInAlice();
    await logOut(refreshToken);
    expectProxied(await sendToolsList(fixture.driver, accessToken));
  });
});
