import { createHash, randomBytes } from "node:crypto";
import { discoverAuthorizationServerMetadata } from "@modelcontextprotocol/sdk/client/auth.js";
import { expect } from "chai";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import { startAuthorizationServer, type AuthorizationServer } from "../../demo/authorization-server";
import { loginHeadlessly, type LoginCredentials } from "../support/headless-login";

const MCP_URL = "http://127.0.0.1:8000/mcp";
const REDIRECT_URI = "http://127.0.0.1:8976/callback";
const MEMBER: LoginCredentials = { username: "alice", password: "alice-password" };
const ADMIN: LoginCredentials = { username: "bob", password: "bob-password" };

interface TokenResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

describe("demo authorization server", () => {
  let as: AuthorizationServer;

  before(async () => {
    as = await startAuthorizationServer({ port: 0, mcpResourceUrl: MCP_URL });
  });

  after(async () => {
    await as.close();
  });

  async function registerPublicClient(metadata: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const response = await fetch(as.registrationEndpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", client_name: "spec", ...metadata }),
    });
    expect(response.status).to.equal(201);
    return (await response.json()) as Record<string, unknown>;
  }

  /** Runs an authorization code flow with PKCE, signing in headlessly, and exchanges the code. */
  async function authorize(
    clientId: string,
    credentials: LoginCredentials,
    parameters: { scope?: string; resource?: string; redirectUri?: string } = {},
  ): Promise<TokenResponse> {
    const redirectUri = parameters.redirectUri ?? REDIRECT_URI;
    const verifier = randomBytes(32).toString("base64url");
    const url = new URL(as.authorizationEndpoint);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: clientId,
      redirect_uri: redirectUri,
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
      state: "state-1",
      ...(parameters.scope === undefined ? {} : { scope: parameters.scope }),
      ...(parameters.resource === undefined ? {} : { resource: parameters.resource }),
    }).toString();
    const { code, state } = await loginHeadlessly(url, credentials);
    expect(state).to.equal("state-1");
    return requestToken({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: redirectUri, client_id: clientId });
  }

  async function requestToken(form: Record<string, string>, headers: Record<string, string> = {}): Promise<TokenResponse> {
    const response = await fetch(as.tokenEndpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(form).toString(),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  function machineCredentials(secret: string = as.machineClient.clientSecret): Record<string, string> {
    return { authorization: `Basic ${Buffer.from(`${as.machineClient.clientId}:${secret}`).toString("base64")}` };
  }

  async function verifyAccessToken(token: unknown): Promise<JWTPayload> {
    const jwks = (await (await fetch(as.jwksUri)).json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(String(token), createLocalJWKSet(jwks), { issuer: as.issuer, audience: MCP_URL, typ: "JWT" });
    return payload;
  }

  describe("discovery", () => {
    it("publishes OpenID metadata at {issuer}/.well-known/openid-configuration with Keycloak's endpoint paths", async () => {
      expect(as.issuer).to.match(/^http:\/\/127\.0\.0\.1:\d+\/realms\/mcp$/);
      const response = await fetch(`${as.issuer}/.well-known/openid-configuration`);
      expect(response.status).to.equal(200);
      const metadata = (await response.json()) as Record<string, unknown>;
      expect(metadata).to.include({
        issuer: as.issuer,
        authorization_endpoint: `${as.issuer}/protocol/openid-connect/auth`,
        token_endpoint: `${as.issuer}/protocol/openid-connect/token`,
        jwks_uri: `${as.issuer}/protocol/openid-connect/certs`,
        registration_endpoint: `${as.issuer}/clients-registrations/openid-connect`,
        introspection_endpoint: `${as.issuer}/protocol/openid-connect/token/introspect`,
        revocation_endpoint: `${as.issuer}/protocol/openid-connect/revoke`,
      });
      expect(metadata.scopes_supported).to.deep.equal(["openid", "mcp:tools", "mcp:resources"]);
      expect(metadata.code_challenge_methods_supported).to.deep.equal(["S256"]);
      const oauthMetadata = await fetch(`${as.issuer}/.well-known/oauth-authorization-server`);
      expect([oauthMetadata.status, ((await oauthMetadata.json()) as Record<string, unknown>).issuer]).to.deep.equal([200, as.issuer]);
    });

    it("answers 404 outside the realm, so the MCP SDK moves on from the RFC 8414 locations", async () => {
      const origin = new URL(as.issuer).origin;
      for (const path of ["/.well-known/oauth-authorization-server/realms/mcp", "/.well-known/openid-configuration/realms/mcp", "/"]) {
        expect((await fetch(`${origin}${path}`)).status, path).to.equal(404);
      }
    });

    it("is found by the MCP SDK's discovery for an issuer with a path", async () => {
      const metadata = await discoverAuthorizationServerMetadata(as.issuer);
      expect(metadata?.issuer).to.equal(as.issuer);
      expect(metadata?.registration_endpoint).to.equal(as.registrationEndpoint);
    });

    it("publishes one RS256 signing key without private parts", async () => {
      const jwks = (await (await fetch(as.jwksUri)).json()) as { keys: Record<string, unknown>[] };
      expect(jwks.keys).to.have.length(1);
      expect(jwks.keys[0]).to.include({ kty: "RSA", alg: "RS256", use: "sig", kid: as.signingKeyIds()[0] });
      expect(jwks.keys[0]).to.have.all.keys("kty", "alg", "use", "kid", "n", "e");
    });
  });

  describe("client_credentials", () => {
    it("issues a Keycloak-shaped JWT with the scopes the service account's roles permit", async () => {
      const { status, body } = await requestToken({ grant_type: "client_credentials", scope: "mcp:tools mcp:resources", resource: MCP_URL }, machineCredentials());
      expect(status).to.equal(200);
      expect(body).to.include({ token_type: "Bearer", scope: "mcp:tools" });
      expect(decodeProtectedHeader(String(body.access_token))).to.deep.equal({ alg: "RS256", typ: "JWT", kid: as.signingKeyIds()[0] });
      const payload = await verifyAccessToken(body.access_token);
      expect(payload).to.deep.include({
        iss: as.issuer,
        aud: [MCP_URL, "account"],
        typ: "Bearer",
        azp: "mcp-machine",
        client_id: "mcp-machine",
        scope: "mcp:tools",
        preferred_username: "service-account-mcp-machine",
        realm_access: { roles: ["mcp:tools"] },
        mcp_scopes: ["mcp:tools"],
      });
    });

    it("targets the MCP URL when the request names no resource", async () => {
      const { status, body } = await requestToken({ grant_type: "client_credentials", scope: "mcp:tools" }, machineCredentials());
      expect(status).to.equal(200);
      expect(decodeJwt(String(body.access_token)).aud).to.deep.equal([MCP_URL, "account"]);
    });

    it("names only Keycloak's default account audience when no MCP scope is granted", async () => {
      const { status, body } = await requestToken({ grant_type: "client_credentials" }, machineCredentials());
      expect(status).to.equal(200);
      expect(decodeJwt(String(body.access_token))).to.deep.include({ aud: "account", azp: "mcp-machine", mcp_scopes: [] });
    });

    it("refuses a wrong client secret and a resource it does not serve", async () => {
      const wrongSecret = await requestToken({ grant_type: "client_credentials", scope: "mcp:tools" }, machineCredentials("nope"));
      expect(wrongSecret.status).to.equal(401);
      expect(wrongSecret.body.error).to.equal("invalid_client");
      const otherResource = await requestToken({ grant_type: "client_credentials", resource: "http://127.0.0.1:9/other" }, machineCredentials());
      expect(otherResource.status).to.equal(400);
      expect(otherResource.body.error).to.equal("invalid_target");
    });
  });

  describe("introspection (RFC 7662) and revocation (RFC 7009)", () => {
    let opaqueAs: AuthorizationServer;

    before(async () => {
      opaqueAs = await startAuthorizationServer({ port: 0, mcpResourceUrl: MCP_URL, accessTokenFormat: "opaque" });
    });

    after(() => opaqueAs?.close());

    async function post(url: string, form: Record<string, string>, headers: Record<string, string> = machineCredentials()): Promise<TokenResponse> {
      const response = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(form).toString() });
      const text = await response.text();
      return { status: response.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
    }

    it("issues opaque access tokens when asked to, which introspect as active for the MCP resource until revoked", async () => {
      const issued = await post(opaqueAs.tokenEndpoint, { grant_type: "client_credentials", scope: "mcp:tools", resource: MCP_URL });
      expect(issued.status).to.equal(200);
      const token = String(issued.body.access_token);
      expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
      const active = await post(opaqueAs.introspectionEndpoint, { token, token_type_hint: "access_token" });
      expect(active.status).to.equal(200);
      expect(active.body).to.deep.include({ active: true, iss: opaqueAs.issuer, aud: MCP_URL, client_id: "mcp-machine", scope: "mcp:tools", token_type: "Bearer" });
      expect(active.body.exp).to.be.a("number");
      expect((await post(opaqueAs.revocationEndpoint, { token })).status).to.equal(200);
      expect((await post(opaqueAs.introspectionEndpoint, { token })).body).to.deep.equal({ active: false });
    });

    it("introspects for confidential clients only, and answers active false to what it never issued", async () => {
      const { body } = await post(opaqueAs.tokenEndpoint, { grant_type: "client_credentials", scope: "mcp:tools", resource: MCP_URL });
      const token = String(body.access_token);
      expect((await post(opaqueAs.introspectionEndpoint, { token, client_id: "mcp-client" }, {})).body).to.deep.equal({ active: false });
      expect((await post(opaqueAs.introspectionEndpoint, { token }, machineCredentials("nope"))).status).to.equal(401);
      expect((await post(opaqueAs.introspectionEndpoint, { token: "never-issued" })).body).to.deep.equal({ active: false });
    });

    it("refuses to introspect the JWTs it issues by default, as oidc-provider does for structured tokens", async () => {
      const { body } = await requestToken({ grant_type: "client_credentials", scope: "mcp:tools", resource: MCP_URL }, machineCredentials());
      const refused = await post(as.introspectionEndpoint, { token: String(body.access_token) });
      expect([refused.status, refused.body.error]).to.deep.equal([400, "unsupported_token_type"]);
    });
  });

  describe("authorization code flow", () => {
    let dynamicClientId: string;

    before(async () => {
      dynamicClientId = String((await registerPublicClient({ scope: "mcp:tools" })).client_id);
    });

    it("registers public clients dynamically and ignores the scope they ask to be bound to", async () => {
      const registered = await registerPublicClient({ scope: "mcp:tools" });
      expect(registered).to.include({ token_endpoint_auth_method: "none" });
      expect(registered).not.to.have.property("scope");
      expect(registered).not.to.have.property("client_secret");
    });

    it("registers a client that sends empty URI metadata (mcp-use 1.34's client_uri), ignoring it, and keeps a real one", async () => {
      const registered = await registerPublicClient({ client_uri: "", logo_uri: "", policy_uri: "", tos_uri: "" });
      for (const member of ["client_uri", "logo_uri", "policy_uri", "tos_uri"]) expect(registered, member).not.to.have.property(member);
      expect(await registerPublicClient({ client_uri: "https://client.example" })).to.include({ client_uri: "https://client.example" });
    });

    it("gives the member only mcp:tools when asked for both scopes", async () => {
      const { status, body } = await authorize(dynamicClientId, MEMBER, { scope: "mcp:tools mcp:resources", resource: MCP_URL });
      expect(status).to.equal(200);
      expect(body.scope).to.equal("mcp:tools");
      expect(body).not.to.have.property("refresh_token");
      expect(decodeProtectedHeader(String(body.access_token)).typ).to.equal("JWT");
      const payload = await verifyAccessToken(body.access_token);
      expect(payload).to.deep.include({
        sub: as.users[0]?.id,
        aud: [MCP_URL, "account"],
        typ: "Bearer",
        azp: dynamicClientId,
        scope: "mcp:tools",
        preferred_username: "alice",
        realm_access: { roles: ["mcp:tools"] },
        mcp_scopes: ["mcp:tools"],
      });
      // Keycloak names the client of a user token in `azp` only.
      expect(payload).not.to.have.property("client_id");
    });

    it("gives the admin both scopes, after a member signed in with the same client (step-up)", async () => {
      await authorize(dynamicClientId, MEMBER, { scope: "mcp:tools", resource: MCP_URL });
      const { status, body } = await authorize(dynamicClientId, ADMIN, { scope: "mcp:resources mcp:tools", resource: MCP_URL });
      expect(status).to.equal(200);
      expect(body.scope).to.equal("mcp:resources mcp:tools");
      const payload = await verifyAccessToken(body.access_token);
      expect(payload).to.deep.include({ preferred_username: "bob", mcp_scopes: ["mcp:tools", "mcp:resources"], realm_access: { roles: ["mcp:tools", "mcp:resources"] } });
    });

    it("applies the default scope mcp:tools and the MCP resource when the request names neither", async () => {
      const { status, body } = await authorize(dynamicClientId, MEMBER);
      expect(status).to.equal(200);
      expect(body.scope).to.equal("mcp:tools");
      expect(decodeJwt(String(body.access_token)).aud).to.deep.equal([MCP_URL, "account"]);
    });

    it("denies a request whose scopes the user holds none of", async () => {
      const attempt = authorize(dynamicClientId, MEMBER, { scope: "mcp:resources", resource: MCP_URL });
      await expectRejection(attempt, "authorization failed: access_denied");
    });

    it("refuses a resource other than the MCP URL", async () => {
      const attempt = authorize(dynamicClientId, MEMBER, { scope: "mcp:tools", resource: "http://127.0.0.1:9/other" });
      await expectRejection(attempt, "authorization failed: invalid_target");
    });

    it("re-shows the form on a wrong password, so the sign-in does not complete", async () => {
      const attempt = authorize(dynamicClientId, { username: "alice", password: "wrong" }, { scope: "mcp:tools" });
      await expectRejection(attempt, "sign-in as alice did not complete: HTTP 200");
    });

    it("lets the static public client mcp-client use a loopback redirect URI on any port", async () => {
      const { status, body } = await authorize(as.publicClientId, MEMBER, { scope: "mcp:tools", redirectUri: "http://127.0.0.1:53412/callback" });
      expect(status).to.equal(200);
      expect(decodeJwt(String(body.access_token)).azp).to.equal("mcp-client");
    });
  });

  describe("key rotation", () => {
    it("signs with the new key first, keeps the old one published, and keeps registered clients", async () => {
      const clientId = String((await registerPublicClient()).client_id);
      const [oldKid] = as.signingKeyIds();
      const newKid = await as.rotateKeys();
      expect(as.signingKeyIds()).to.deep.equal([newKid, oldKid]);
      const jwks = (await (await fetch(as.jwksUri)).json()) as { keys: { kid: string }[] };
      expect(jwks.keys.map((key) => key.kid)).to.deep.equal([newKid, oldKid]);
      const { body } = await authorize(clientId, MEMBER, { scope: "mcp:tools" });
      expect(decodeProtectedHeader(String(body.access_token)).kid).to.equal(newKid);
    });

    it("drops the previous keys when asked to", async () => {
      const newKid = await as.rotateKeys({ retainPrevious: false });
      const jwks = (await (await fetch(as.jwksUri)).json()) as { keys: { kid: string }[] };
      expect(jwks.keys.map((key) => key.kid)).to.deep.equal([newKid]);
      const { body } = await requestToken({ grant_type: "client_credentials", scope: "mcp:tools" }, machineCredentials());
      expect(decodeProtectedHeader(String(body.access_token)).kid).to.equal(newKid);
    });
  });
});

async function expectRejection(attempt: Promise<unknown>, messageStart: string): Promise<void> {
  const outcome = await attempt.then(
    () => "resolved",
    (error: unknown) => String(error instanceof Error ? error.message : error),
  );
  expect(outcome.startsWith(messageStart), outcome).to.equal(true);
}
