// What must hold for a Keycloak realm set up as the README says, checked through the gate (the
// Kong driver and our plugin server, configured as the README's Keycloak section) with tokens from
// the real Keycloak: the seed realm imported from kong/keycloak/realm-mcp.json and a realm that
// mcp-oauth2-keycloak-setup set up run the same checks.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { decodeJwt, decodeProtectedHeader } from "jose";
import type { Outcome } from "../../kong/driver";
import type { KeycloakServer } from "../../kong/keycloak/keycloak-server";
import { listSeedPeople } from "../../kong/keycloak/seed-realm";
import { connectAdmin, type KeycloakGateway } from "./keycloak-fixture";
import { requestClientCredentials, requestClientCredentialsAs, signInWithPkce, type TokenResponse } from "./keycloak-tokens";
import { expectProxied, formatJsonRpc, postToMcp, readAnswer, sendThroughGate } from "./gate-requests";
import type { LoginCredentials } from "./headless-login";

/** A realm of the run's Keycloak, and what the plugin must be told about it. */
export interface KeycloakRealmUnderTest {
  readonly keycloak: KeycloakServer;
  readonly realm: string;
  /** The value of the realm's Audience mappers: the plugin's `audience`. */
  readonly audience: string;
  readonly machineClientSecret: string;
}

/** The ACL of the README's Admin API example. */
const README_SCOPE_METHOD_MAPPING = [
  { scope: "mcp:tools", methods: ["initialize", "ping", "notifications/*", "tools/*", "prompts/*"] },
  { scope: "mcp:resources", methods: ["initialize", "ping", "notifications/*", "resources/*"] },
];
const CERTS_PATH = "/protocol/openid-connect/certs";
const USER_SCOPE = "openid mcp:tools mcp:resources";

/**
 * The plugin configuration of the README's Keycloak section for `realm`: url and issuer the
 * realm's issuer, jwks_uri Keycloak's certs path, audience the Audience mappers' value,
 * acl_claim mcp_scopes, `resource` the URL clients connect to.
 */
export function describeReadmeKeycloakConfig(realm: KeycloakRealmUnderTest, resource: string, settings: Record<string, unknown> = {}): Record<string, unknown> {
  const issuer = realm.keycloak.issuer(realm.realm);
  return {
    resource,
    resource_name: "Demo MCP server behind Kong",
    authorization_servers: [{ url: issuer, issuer, audience: realm.audience, jwks_uri: CERTS_PATH }],
    scopes_supported: ["mcp:tools", "mcp:resources"],
    enable_acl: true,
    acl_claim: "mcp_scopes",
    scope_method_mapping: README_SCOPE_METHOD_MAPPING,
    allowed_algorithms: ["RS256"],
    http_timeout: 5000,
    ...settings,
  };
}

/** The seed's demo user of that name, with the password the realm gives it. */
export function findSeedUser(username: "alice" | "bob"): LoginCredentials {
  const person = listSeedPeople().find((candidate) => candidate.username === username);
  const password = person?.credentials?.[0]?.value;
  if (password === undefined) throw new Error(`the seed realm has no password for ${username}`);
  return { username, password };
}

function send(gateway: KeycloakGateway, token: string, method: string, params: Record<string, unknown> = {}): Promise<Outcome> {
  return sendThroughGate(gateway.driver, postToMcp(token, formatJsonRpc(method, params), [["Accept", "application/json, text/event-stream"]]));
}

function expectRefused(outcome: Outcome, description: string, logged: string): void {
  const answer = readAnswer(outcome);
  expect([answer.status, answer.body]).to.deep.equal([401, { error: "invalid_token", error_description: description }]);
  expect(outcome.logs.map(({ message }) => message).join("\n")).to.include(logged);
}

function expectInsufficientScope(outcome: Outcome, method: string, challengeScope: string): void {
  const answer = readAnswer(outcome);
  expect(answer.status, `${method}: ${JSON.stringify(answer.body)}`).to.equal(403);
  expect(answer.headers["www-authenticate"]).to.include('error="insufficient_scope"').and.to.include(`scope="${challengeScope}"`);
}

/**
 * Registers the checks of issue points 2 to 4 for the realm `prepare` resolves to: real tokens of
 * alice, bob and mcp-machine with keycloak_compat on and off, refused tokens, and Keycloak's keys.
 * `prepare` runs once, in the suite's `before`; the key rotation at the end changes the realm's keys.
 */
export function describeRealmThroughGate(prepare: (context: Mocha.Context) => Promise<{ realm: KeycloakRealmUnderTest; gateway: KeycloakGateway }>): void {
  let realm: KeycloakRealmUnderTest;
  let gateway: KeycloakGateway;
  let issuer: string;
  const tokens: Record<"alice" | "bob" | "machine", TokenResponse> = {} as never;

  before(async function () {
    ({ realm, gateway } = await prepare(this));
    issuer = realm.keycloak.issuer(realm.realm);
    tokens.alice = await signInWithPkce(issuer, "mcp-client", findSeedUser("alice"), USER_SCOPE);
    tokens.bob = await signInWithPkce(issuer, "mcp-client", findSeedUser("bob"), USER_SCOPE);
    tokens.machine = await requestClientCredentials(issuer, "mcp-machine", realm.machineClientSecret);
  });

  it("issues what the README says the plugin reads: iss, aud, typ, azp, scope, mcp_scopes; RS256 tokens of header typ JWT", () => {
    const claims = (token: TokenResponse) => decodeJwt(token.access_token);
    for (const [name, token] of Object.entries(tokens)) {
      expect(decodeProtectedHeader(token.access_token), name).to.include({ alg: "RS256", typ: "JWT" });
      expect(claims(token), name).to.include({ iss: issuer, typ: "Bearer" });
      // full scope off: no account roles, so the Audience mapper's value is the only audience.
      expect(claims(token).aud, name).to.equal(realm.audience);
    }
    expect(claims(tokens.alice)).to.deep.include({ azp: "mcp-client", mcp_scopes: ["mcp:tools"], preferred_username: "alice" });
    expect(String(claims(tokens.alice).scope).split(" ")).to.include.members(["openid", "mcp:tools"]).and.not.include("mcp:resources");
    expect(claims(tokens.bob)).to.deep.include({ azp: "mcp-client", preferred_username: "bob" });
    // Each granted MCP scope's mapper writes the roles in scope: bob's claim lists both twice.
    expect(claims(tokens.bob).mcp_scopes).to.deep.equal(["mcp:tools", "mcp:resources", "mcp:tools", "mcp:resources"]);
    expect(String(claims(tokens.bob).scope).split(" ")).to.include.members(["mcp:tools", "mcp:resources"]);
    expect(claims(tokens.machine)).to.deep.include({ azp: "mcp-machine", scope: "mcp:tools", mcp_scopes: ["mcp:tools"] });
  });

  for (const keycloakCompat of [true, false]) {
    describe(`keycloak_compat ${keycloakCompat}`, () => {
      before(() => gateway.configure(describeReadmeKeycloakConfig(realm, gateway.mcpEndpoint, { keycloak_compat: keycloakCompat })));

      it("lets alice (mcp-member) list and call tools, and refuses her resources/read with 403 asking for mcp:resources", async () => {
        const allowed = expectProxied(await send(gateway, tokens.alice.access_token, "tools/list"));
        expect(allowed.ctxShared.mcp_oauth2).to.deep.equal({ subject: decodeJwt(tokens.alice.access_token).sub, issuer, client_id: "mcp-client", scopes: ["mcp:tools"] });
        expectProxied(await send(gateway, tokens.alice.access_token, "tools/call", { name: "math_add", arguments: { a: 1, b: 2 } }));
        expectInsufficientScope(await send(gateway, tokens.alice.access_token, "resources/read", { uri: "docs://readme" }), "resources/read", "mcp:resources mcp:tools");
      });

      it("lets bob (mcp-admin) read resources", async () => {
        expectProxied(await send(gateway, tokens.bob.access_token, "resources/read", { uri: "docs://readme" }));
        expectProxied(await send(gateway, tokens.bob.access_token, "tools/list"));
      });

      it("lets mcp-machine (client_credentials) list tools, not resources", async () => {
        expectProxied(await send(gateway, tokens.machine.access_token, "tools/list"));
        expectInsufficientScope(await send(gateway, tokens.machine.access_token, "resources/list"), "resources/list", "mcp:resources mcp:tools");
      });

      it(`refuses alice's ID token (${keycloakCompat ? "typ ID" : "audience mcp-client"}) and her refresh token (HS512)`, async () => {
        expect(decodeJwt(tokens.alice.id_token as string)).to.include({ typ: "ID", aud: "mcp-client" });
        const idToken = await send(gateway, tokens.alice.id_token as string, "tools/list");
        if (keycloakCompat) expectRefused(idToken, "the token is not a Keycloak access token", 'Keycloak token typ "ID", expected "Bearer"');
        else expectRefused(idToken, "the token is not meant for this resource (audience)", 'got "mcp-client"');
        expect(decodeProtectedHeader(tokens.alice.refresh_token as string).alg).to.equal("HS512");
        expect(decodeJwt(tokens.alice.refresh_token as string).typ).to.equal("Refresh");
        expectRefused(await send(gateway, tokens.alice.refresh_token as string, "tools/list"), "the token's signing algorithm is not accepted", 'alg "HS512"');
      });
    });
  }

  describe("tokens Keycloak issues but the plugin must refuse", () => {
    const createdClients: string[] = [];
    let otherRealm: string | undefined;

    before(() => gateway.configure(describeReadmeKeycloakConfig(realm, gateway.mcpEndpoint, { keycloak_compat: true })));
    after(async () => {
      const admin = await connectAdmin(realm.keycloak, realm.realm);
      for (const id of createdClients.splice(0)) await admin.clients.del({ id });
      if (otherRealm !== undefined) await admin.realms.del({ realm: otherRealm });
    });

    /** A confidential client with a service account, created in the realm under test. */
    async function createServiceClient(clientId: string, representation: Record<string, unknown>, serviceAccountRoles: readonly string[] = []): Promise<string> {
      const admin = await connectAdmin(realm.keycloak, realm.realm);
      const { id } = await admin.clients.create({ clientId, publicClient: false, serviceAccountsEnabled: true, standardFlowEnabled: false, secret: `${clientId}-secret`, ...representation });
      createdClients.push(id);
      const serviceAccount = await admin.clients.getServiceAccountUser({ id });
      const roles = await Promise.all(serviceAccountRoles.map(async (name) => (await admin.roles.findOneByName({ name })) as { id: string; name: string }));
      if (roles.length > 0) await admin.users.addRealmRoleMappings({ id: serviceAccount.id as string, roles });
      return `${clientId}-secret`;
    }

    it("a client without the audience mapper: its token names only account (401, both with keycloak_compat on and off)", async () => {
      const secret = await createServiceClient("mcp-test-no-audience", {});
      const { access_token: token } = await requestClientCredentials(issuer, "mcp-test-no-audience", secret);
      expect(decodeJwt(token).aud).to.equal("account");
      expectRefused(await send(gateway, token, "tools/list"), "the token is not meant for this resource (audience)", "Keycloak token for the account audience only");
      gateway.configure(describeReadmeKeycloakConfig(realm, gateway.mcpEndpoint, { keycloak_compat: false }));
      expectRefused(await send(gateway, token, "tools/list"), "the token is not meant for this resource (audience)", 'got "account"');
      gateway.configure(describeReadmeKeycloakConfig(realm, gateway.mcpEndpoint, { keycloak_compat: true }));
    });

    it("a client with lightweight access tokens: the mappers' claims (aud, mcp_scopes) stay out of the token (401)", async () => {
      const secret = await createServiceClient("mcp-test-lightweight", {
        fullScopeAllowed: false,
        defaultClientScopes: ["basic", "mcp:tools"],
        attributes: { "client.use.lightweight.access.token.enabled": "true" },
      }, ["mcp:tools"]);
      const { access_token: token, scope } = await requestClientCredentials(issuer, "mcp-test-lightweight", secret, "mcp:tools");
      expect(scope?.split(" ")).to.include("mcp:tools");
      expect(decodeJwt(token)).not.to.have.any.keys("aud", "mcp_scopes");
      expectRefused(await send(gateway, token, "tools/list"), "the token is not meant for this resource (audience)", "got undefined");
    });

    it("a token requested through another host name: Keycloak writes that name into iss (401 unknown issuer)", async () => {
      const { port } = new URL(issuer);
      const { access_token: token } = await requestClientCredentialsAs(`localhost:${port}`, issuer, "mcp-machine", realm.machineClientSecret);
      const otherIssuer = issuer.replace("127.0.0.1", "localhost");
      expect(decodeJwt(token).iss).to.equal(otherIssuer);
      expectRefused(await send(gateway, token, "tools/list"), "the token was not issued by an accepted authorization server", `unknown issuer "${otherIssuer}"`);
    });

    it("a token of another realm, even with the right audience (401 unknown issuer)", async () => {
      otherRealm = `${realm.realm}-other`;
      const admin = await connectAdmin(realm.keycloak, otherRealm);
      await admin.realms.create({ realm: otherRealm, enabled: true });
      await admin.clients.create({
        clientId: "mcp-machine",
        publicClient: false,
        serviceAccountsEnabled: true,
        standardFlowEnabled: false,
        secret: "other-realm-secret",
        protocolMappers: [
          { name: "mcp audience", protocol: "openid-connect", protocolMapper: "oidc-audience-mapper", config: { "included.custom.audience": realm.audience, "access.token.claim": "true" } },
        ],
      });
      const { access_token: token } = await requestClientCredentials(realm.keycloak.issuer(otherRealm), "mcp-machine", "other-realm-secret");
      expect(decodeJwt(token)).to.deep.include({ iss: realm.keycloak.issuer(otherRealm) });
      expect([decodeJwt(token).aud].flat()).to.include(realm.audience);
      expectRefused(await send(gateway, token, "tools/list"), "the token was not issued by an accepted authorization server", `unknown issuer "${realm.keycloak.issuer(otherRealm)}"`);
    });
  });

  describe("Keycloak's keys", () => {
    let certs: CountingForwarder;

    before(async () => {
      certs = await startCountingForwarder(`${issuer}${CERTS_PATH}`);
      // An absolute jwks_uri (the README's "internal URL"), here one that counts the plugin's fetches.
      // token_cache_ttl 0: every request goes to the key set, whose caching is what is watched here.
      gateway.configure(
        describeReadmeKeycloakConfig(realm, gateway.mcpEndpoint, {
          keycloak_compat: true,
          token_cache_ttl: 0,
          jwks_refetch_cooldown: 0,
          authorization_servers: [{ url: issuer, issuer, audience: realm.audience, jwks_uri: certs.url }],
        }),
      );
    });
    after(() => certs?.close());

    it("publishes an RSA-OAEP encryption key beside the signing key; the plugin never uses it", async () => {
      const { keys } = (await (await fetch(`${issuer}${CERTS_PATH}`)).json()) as { keys: { kid: string; alg: string; use: string }[] };
      const encryption = keys.filter((key) => key.use === "enc");
      expect(encryption.map((key) => key.alg)).to.deep.equal(["RSA-OAEP"]);
      // A token naming the encryption key's kid finds no key: use "enc" keys are not imported.
      const [header, payload] = tokens.machine.access_token.split(".");
      const forged = `${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(header as string, "base64url").toString()), kid: encryption[0]?.kid })).toString("base64url")}.${payload}.AAAA`;
      expectRefused(await send(gateway, forged, "tools/list"), "no signing key of the authorization server matches the token", `for kid '${encryption[0]?.kid}'`);
    });

    it("rotates through the Admin API: new tokens carry a new kid and pass after one refetch; old ones pass until their key is removed and the key set is refetched", async () => {
      const admin = await connectAdmin(realm.keycloak, realm.realm);
      const realmId = (await admin.realms.findOne({ realm: realm.realm }))?.id as string;
      const issueMachineToken = async () => (await requestClientCredentials(issuer, "mcp-machine", realm.machineClientSecret)).access_token;
      const addSigningKey = (name: string, priority: number) =>
        admin.components.create({ name, providerId: "rsa-generated", providerType: "org.keycloak.keys.KeyProvider", parentId: realmId, config: { priority: [String(priority)], active: ["true"], enabled: ["true"] } });

      const oldToken = await issueMachineToken();
      const oldKid = decodeProtectedHeader(oldToken).kid;
      expectProxied(await send(gateway, oldToken, "tools/list"));
      const fetchesBefore = certs.requests;

      await addSigningKey("rotated-1", 200);
      const newToken = await issueMachineToken();
      expect(decodeProtectedHeader(newToken).kid).to.be.a("string").and.not.equal(oldKid);
      expectProxied(await send(gateway, newToken, "tools/list"));
      expect(certs.requests - fetchesBefore, "refetches for the new kid").to.equal(1);
      expectProxied(await send(gateway, oldToken, "tools/list"));
      expect(certs.requests - fetchesBefore, "the old kid is still in the cached key set").to.equal(1);

      const oldProviders = (await admin.components.find({ type: "org.keycloak.keys.KeyProvider" })).filter((component) => component.providerId === "rsa-generated" && component.name !== "rotated-1");
      for (const provider of oldProviders) await admin.components.del({ id: provider.id as string });
      expect(((await (await fetch(`${issuer}${CERTS_PATH}`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid)).not.to.include(oldKid);
      expectProxied(await send(gateway, oldToken, "tools/list"));

      // The cache lets go when the key set is fetched again: here a token of a newer key makes the
      // plugin refetch at once (cooldown 0); otherwise the background refresh does it after 5 minutes.
      await addSigningKey("rotated-2", 300);
      expectProxied(await send(gateway, await issueMachineToken(), "tools/list"));
      expectRefused(await send(gateway, oldToken, "tools/list"), "no signing key of the authorization server matches the token", `for kid '${oldKid}'`);
    });
  });
}

/** An HTTP forwarder on 127.0.0.1 that counts the requests it passes on to one URL. */
interface CountingForwarder {
  readonly url: string;
  readonly requests: number;
  close(): Promise<void>;
}

async function startCountingForwarder(target: string): Promise<CountingForwarder> {
  let requests = 0;
  const server: Server = createServer((_request, response) => {
    requests += 1;
    fetch(target, { signal: AbortSignal.timeout(10_000) }).then(
      async (answer) => {
        response.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
        response.end(Buffer.from(await answer.arrayBuffer()));
      },
      () => {
        response.writeHead(502);
        response.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/certs`,
    get requests() {
      return requests;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
