import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { startAuthorizationServer, type AuthorizationServer } from "../../../demo/authorization-server";
import { collectDriverLogLines } from "../../support/gate-driver";
import {
  expectProxied,
  expectRefusedToken,
  formatToolCall,
  listPdkMethods,
  MCP_RESOURCE,
  postToMcp,
  readAnswer,
  routeThroughGate,
  sendThroughGate,
  sendToolsList,
  sendUntilRefused,
} from "../../support/gate-requests";
import { IntrospectionServer } from "../../support/introspection-server";
import { JwksServer } from "../../support/jwks-server";
import { PLUGIN_SERVER_IMPLEMENTATIONS, startBuiltPluginDriver, type DriverFixture } from "../../support/plugin-server-fixture";
import { createSigningKey, signAccessToken } from "../../support/token-factory";

const INTROSPECTION_PATH = "/protocol/openid-connect/token/introspect";
const TOOLS_ONLY = [{ scope: "mcp:tools", methods: ["initialize", "notifications/*", "tools/*"] }];

/** Posts a form to `url` as mcp-machine (client_secret_basic) and expects 200. */
async function postAsMachine(as: AuthorizationServer, url: string, form: Record<string, string>): Promise<Response> {
  const { clientId, clientSecret } = as.machineClient;
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}` },
    body: new URLSearchParams(form).toString(),
  });
  expect(response.status).to.equal(200);
  return response;
}

/** A token of `as` (client_credentials as mcp-machine) for the MCP resource: opaque or a JWT, as `as` issues them. */
async function requestMachineToken(as: AuthorizationServer): Promise<string> {
  const response = await postAsMachine(as, as.tokenEndpoint, { grant_type: "client_credentials", scope: "mcp:tools", resource: MCP_RESOURCE });
  return String(((await response.json()) as { access_token: unknown }).access_token);
}

/** Revokes one of mcp-machine's tokens at `as` (RFC 7009). */
async function revokeToken(as: AuthorizationServer, token: string): Promise<void> {
  await postAsMachine(as, as.revocationEndpoint, { token });
}

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`mcp-oauth2 token introspection against oidc-provider (${implementation} plugin server)`, function () {
    this.timeout(60_000);
    let fixture: DriverFixture;
    let opaqueAs: AuthorizationServer;
    let jwtAs: AuthorizationServer;
    const asLog: string[] = [];
    const introspections = () => asLog.filter((line) => line.startsWith(`POST /realms/mcp${INTROSPECTION_PATH} `)).length;

    before(async () => {
      [opaqueAs, jwtAs, fixture] = await Promise.all([
        startAuthorizationServer({ port: 0, mcpResourceUrl: MCP_RESOURCE, accessTokenFormat: "opaque", logger: (line) => asLog.push(line) }),
        startAuthorizationServer({ port: 0, mcpResourceUrl: MCP_RESOURCE }),
        startBuiltPluginDriver(implementation),
      ]);
    });

    after(async () => {
      await fixture?.close();
      await opaqueAs?.close();
      await jwtAs?.close();
    });

    /** The opaque-token realm introspected as mcp-machine (or `client`), the JWT realm verified locally. */
    function guard(settings: Record<string, unknown> = {}, client: Record<string, unknown> = {}): void {
      routeThroughGate(fixture.driver, {
        authorization_servers: [
          { url: jwtAs.issuer, audience: MCP_RESOURCE, jwks_uri: "/protocol/openid-connect/certs" },
          {
            url: opaqueAs.issuer,
            audience: MCP_RESOURCE,
            jwks_uri: "/protocol/openid-connect/certs",
            introspection: "opaque",
            introspection_endpoint: INTROSPECTION_PATH,
            client_id: opaqueAs.machineClient.clientId,
            client_secret: opaqueAs.machineClient.clientSecret,
            ...client,
          },
        ],
        resource: MCP_RESOURCE,
        upstream_headers: [{ header: "X-MCP-Client", claim: "client_id" }],
        enable_acl: true,
        scope_method_mapping: TOOLS_ONLY,
        ...settings,
      });
    }

    it("lets an opaque token through on the introspection answer: identity and grants from it, the same PDK calls as a JWT, one call", async () => {
      guard();
      const token = await requestMachineToken(opaqueAs);
      const before = introspections();
      const opaque = expectProxied(await sendToolsList(fixture.driver, token));
      expect(opaque.ctxShared.mcp_oauth2).to.deep.equal({ issuer: opaqueAs.issuer, client_id: "mcp-machine", scopes: ["mcp:tools"] });
      expect(opaque.upstreamRequest.headers.filter(([name]) => name.toLowerCase().startsWith("x-mcp-") || name.toLowerCase() === "authorization")).to.deep.equal([["X-MCP-Client", "mcp-machine"]]);
      const jwt = expectProxied(await sendToolsList(fixture.driver, await requestMachineToken(jwtAs)));
      expect(listPdkMethods(opaque)).to.deep.equal(listPdkMethods(jwt));
      const cached = expectProxied(await sendToolsList(fixture.driver, token));
      expect(listPdkMethods(cached)).to.deep.equal(listPdkMethods(jwt));
      expect(introspections() - before, "JWTs are not introspected, a cached opaque token is not asked about again").to.equal(1);
    });

    it("applies the ACL to the answer's scope: tools pass, resources/read gets 403 insufficient_scope", async () => {
      guard({ scopes_supported: ["mcp:tools", "mcp:resources"], scope_method_mapping: [...TOOLS_ONLY, { scope: "mcp:resources", methods: ["resources/*"] }] });
      const token = await requestMachineToken(opaqueAs);
      expectProxied(await sendThroughGate(fixture.driver, postToMcp(token, formatToolCall("weather_forecast"))));
      const denied = readAnswer(await sendThroughGate(fixture.driver, postToMcp(token, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri: "docs://a" } }))));
      expect(denied.status).to.equal(403);
      expect(denied.headers["www-authenticate"]).to.match(/^Bearer error="insufficient_scope", .*scope="mcp:resources mcp:tools"/);
    });

    it("refuses a revoked token with 401 once the token cache lets go of it", async () => {
      guard({ token_cache_ttl: 1 });
      const token = await requestMachineToken(opaqueAs);
      expectProxied(await sendToolsList(fixture.driver, token));
      await revokeToken(opaqueAs, token);
      const before = introspections();
      expectRefusedToken(await sendUntilRefused(fixture.driver, token), "the token is not active (expired, revoked or unknown)");
      expect(introspections() - before, "asked again only once the cached verdict expired").to.equal(1);
    });

    it("refuses an unknown token with 401 and asks about it once for a flood of 200 requests and a second wave", async () => {
      guard();
      const unknown = randomBytes(32).toString("base64url");
      const before = introspections();
      for (let wave = 0; wave < 2; wave++) {
        const outcomes = await Promise.all(Array.from({ length: 200 }, () => sendToolsList(fixture.driver, unknown)));
        for (const outcome of outcomes) expectRefusedToken(outcome, "the token is not active (expired, revoked or unknown)");
      }
      expect(introspections() - before).to.equal(1);
    });

    it("asks once for 200 concurrent requests with one fresh token, and lets them all through", async () => {
      guard();
      const token = await requestMachineToken(opaqueAs);
      const before = introspections();
      const outcomes = await Promise.all(Array.from({ length: 200 }, () => sendToolsList(fixture.driver, token)));
      for (const outcome of outcomes) expectProxied(outcome);
      expect(introspections() - before).to.equal(1);
    });

    it("authenticates with client_secret_post as a client registered for it", async () => {
      const response = await fetch(opaqueAs.registrationEndpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ client_name: "mcp gateway", token_endpoint_auth_method: "client_secret_post", grant_types: ["client_credentials"], response_types: [], redirect_uris: [] }),
      });
      expect(response.status).to.equal(201);
      const registered = (await response.json()) as { client_id: string; client_secret: string };
      guard({}, { client_id: registered.client_id, client_secret: registered.client_secret, client_auth_method: "client_secret_post" });
      expectProxied(await sendToolsList(fixture.driver, await requestMachineToken(opaqueAs)));
    });

    it("answers 503 with Retry-After when the gateway's credentials are refused, and logs why without the secret or the token", async () => {
      const secret = `wrong-${randomBytes(8).toString("hex")}`;
      guard({}, { client_secret: secret });
      const token = await requestMachineToken(opaqueAs);
      const answer = readAnswer(await sendToolsList(fixture.driver, token));
      expect(answer).to.deep.include({ status: 503, body: { error: "temporarily_unavailable", error_description: "the authorization server cannot check the token right now" } });
      expect(answer.headers["retry-after"]).to.equal("5");
      expect(answer.headers["www-authenticate"]).to.equal(undefined);
      const lines = collectDriverLogLines(fixture.driver);
      expect(lines).to.include(`mcp-oauth2: 503 on /mcp: introspection endpoint ${opaqueAs.introspectionEndpoint} answered HTTP 401 (invalid_client)`);
      for (const line of lines) expect(line).not.to.contain(secret).and.not.to.contain(token).and.not.to.contain(opaqueAs.machineClient.clientSecret);
    });
  });
}

describe("mcp-oauth2 introspection always: a revocation check of JWTs (our plugin server)", function () {
  this.timeout(30_000);
  let fixture: DriverFixture;
  let introspection: IntrospectionServer;
  let jwks: JwksServer;

  before(async () => {
    const key = await createSigningKey("ES256", "always-key");
    [fixture, introspection, jwks] = await Promise.all([startBuiltPluginDriver("ours"), IntrospectionServer.start(), JwksServer.start([key.publicJwk])]);
    signJwt = () => signAccessToken(key, { issuer: introspection.url, audience: MCP_RESOURCE, claims: { jti: randomBytes(8).toString("hex") } });
  });

  let signJwt: () => Promise<string>;

  after(async () => {
    await fixture?.close();
    await introspection?.close();
    await jwks?.close();
  });

  function guard(introspectionMode: string): void {
    routeThroughGate(fixture.driver, {
      authorization_servers: [
        {
          url: introspection.url,
          audience: MCP_RESOURCE,
          jwks_uri: jwks.jwksUri,
          introspection: introspectionMode,
          introspection_endpoint: introspection.endpoint,
          client_id: introspection.clientId,
          client_secret: introspection.clientSecret,
        },
      ],
      resource: MCP_RESOURCE,
      token_cache_ttl: 1,
    });
  }

  it("lets a JWT through while its server answers active, and refuses it with 401 once revoked and the cache lets go", async () => {
    guard("always");
    const jwt = await signJwt();
    introspection.activate(jwt, { aud: MCP_RESOURCE });
    const before = introspection.requestCount;
    expect(expectProxied(await sendToolsList(fixture.driver, jwt)).ctxShared.mcp_oauth2).to.deep.equal({ subject: "user-1", issuer: introspection.url, client_id: "mcp-client", scopes: [] });
    expect(introspection.lastRequest?.form.get("token")).to.equal(jwt);
    introspection.revoke(jwt);
    expectRefusedToken(await sendUntilRefused(fixture.driver, jwt), "the token is not active (expired, revoked or unknown)");
    expect(introspection.requestCount - before).to.equal(2);
  });

  it("refuses a JWT with padding appended, and any two-dot token outside base64url, as not a signed JWT: 401, never introspected", async () => {
    guard("always");
    const jwt = await signJwt();
    introspection.activate(jwt, { aud: MCP_RESOURCE });
    const before = introspection.requestCount;
    // Each spelling would be a token of its own to the cache and the endpoint: one real token, unlimited calls.
    for (const variant of [`${jwt}=`, `${jwt}==`, `${jwt.slice(0, -1)}~`, "a+b.c/d.e~"]) {
      expectRefusedToken(await sendToolsList(fixture.driver, variant), "the token is not a signed JWT");
    }
    expect(introspection.requestCount - before).to.equal(0);
  });

  it("does not ask about JWTs with introspection opaque, revoked or not", async () => {
    guard("opaque");
    const jwt = await signJwt();
    const before = introspection.requestCount;
    expectProxied(await sendToolsList(fixture.driver, jwt));
    expect(introspection.requestCount).to.equal(before);
  });
});
