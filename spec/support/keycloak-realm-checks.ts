// What must hold for a Keycloak realm set up as the README says, checked through the gate (the
// Kong driver and our plugin server, configured as the README's Keycloak section) with tokens from
// the real Keycloak: the seed realm imported from kong/keycloak/realm-mcp.json and a realm that
// mcp-oauth2-keycloak-setup set up run the same checks.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPError, type StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { expect } from "chai";
import { decodeJwt, decodeProtectedHeader } from "jose";
import type { Outcome } from "../../kong/driver";
import type { KeycloakServer } from "../../kong/keycloak/keycloak-server";
import { listSeedPeople } from "../../kong/keycloak/seed-realm";
import { connectAdmin, type KeycloakGateway } from "./keycloak-fixture";
import { requestClientCredentials, requestClientCredentialsAs, signInWithPkce, type TokenResponse } from "./keycloak-tokens";
import { expectProxied, formatJsonRpc, postToMcp, readAnswer, sendThroughGate } from "./gate-requests";
import { expectRejection } from "./error-assertions";
import type { LoginCredentials } from "./headless-login";
import { callWithStepUp, connectWithHeadlessLogin, HeadlessOAuthClientProvider, type HeadlessOAuthClientProviderOptions } from "./headless-oauth-client-provider";
import { closeMcpRemote, findMcpRemoteEntry } from "./mcp-remote";

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
/** The shortest jwks_refetch_cooldown Kong accepts, in seconds. */
const REFETCH_COOLDOWN_S = 1;
const USER_SCOPE = "openid mcp:tools mcp:resources";
/** Every MCP client request gives up after this long instead of hanging the run. */
const REQUEST_OPTIONS = { timeout: 15_000 };

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

  describe("MCP clients registering themselves (RFC 7591) through the gateway's HTTP endpoint", () => {
    const openClients: Client[] = [];
    before(() => gateway.configure(describeReadmeKeycloakConfig(realm, gateway.mcpEndpoint, { keycloak_compat: true })));
    afterEach(async () => {
      await Promise.all(openClients.splice(0).map((client) => client.close()));
    });

    function createClient(name: string): Client {
      const client = new Client({ name, version: "1.0.0" });
      openClients.push(client);
      return client;
    }

    /** An SDK OAuth provider whose browser signs in as these users, one per authorization request. */
    function signInAs(usernames: readonly ("alice" | "bob")[], options: Partial<HeadlessOAuthClientProviderOptions> = {}): HeadlessOAuthClientProvider {
      const queue = usernames.map(findSeedUser);
      return new HeadlessOAuthClientProvider({
        ...options,
        signInAs: () => {
          const next = queue.shift();
          if (next === undefined) throw new Error("an unexpected sign-in was asked for");
          return next;
        },
      });
    }

    /** The 401 → metadata → discovery → (registration) → alice's PKCE login → tools/list part of a client's start. */
    async function expectLogin(provider: HeadlessOAuthClientProvider, client: Client, expectedClientId?: string): Promise<StreamableHTTPClientTransport> {
      const transport = await connectWithHeadlessLogin(client, new URL(gateway.mcpEndpoint), provider);
      const clientId = provider.clientInformation()?.client_id;
      if (expectedClientId === undefined) expect(clientId, "a client Keycloak registered").to.be.a("string").and.not.equal("mcp-client");
      else expect(clientId).to.equal(expectedClientId);
      const [authorization] = provider.authorizationUrls;
      expect(`${authorization?.origin}${authorization?.pathname}`).to.equal(`${issuer}/protocol/openid-connect/auth`);
      expect(authorization?.searchParams.get("scope")).to.equal("mcp:tools mcp:resources");
      expect(decodeJwt(String(provider.tokens()?.access_token))).to.deep.include({ iss: issuer, aud: realm.audience, azp: clientId, sub: await findUserId("alice"), mcp_scopes: ["mcp:tools"] });
      expect((await client.listTools({}, REQUEST_OPTIONS)).tools).to.have.length(22);
      return transport;
    }

    /** The 403 on resources/read sends the client to a new authorization, where bob signs in. */
    async function expectStepUpToBob(provider: HeadlessOAuthClientProvider, client: Client, transport: StreamableHTTPClientTransport): Promise<void> {
      const clientId = provider.clientInformation()?.client_id;
      const { contents } = await callWithStepUp(transport, provider, () => client.readResource({ uri: "docs://readme" }, REQUEST_OPTIONS));
      expect(contents[0]).to.include({ uri: "docs://readme" });
      expect(decodeJwt(String(provider.tokens()?.access_token))).to.deep.include({ azp: clientId, sub: await findUserId("bob") });
      expect(provider.authorizationUrls.map((url) => url.searchParams.get("scope"))).to.deep.equal(["mcp:tools mcp:resources", "mcp:resources mcp:tools"]);
    }

    async function findUserId(username: string): Promise<string | undefined> {
      const admin = await connectAdmin(realm.keycloak, realm.realm);
      return (await admin.users.find({ username, exact: true }))[0]?.id;
    }

    it("the MCP SDK client: 401, metadata, Keycloak's discovery, anonymous registration, alice's PKCE login, tools/list, step-up to bob for resources/read", async () => {
      // Registered for authorization_code only: Keycloak issues no refresh token, and the SDK answers the 403 with a new authorization.
      const provider = signInAs(["alice", "bob"]);
      const client = createClient("sdk-keycloak");
      await expectStepUpToBob(provider, client, await expectLogin(provider, client));
    });

    it("the MCP SDK client keeping Keycloak's refresh token does not step up: it refreshes, gets alice's scopes again, and gives up", async () => {
      const provider = signInAs(["alice"], { clientMetadata: { grant_types: ["authorization_code", "refresh_token"] } });
      const client = createClient("sdk-keycloak-refreshing");
      await expectLogin(provider, client);
      expect(provider.tokens()?.refresh_token).to.be.a("string");
      const error = await expectRejection(client.readResource({ uri: "docs://readme" }, REQUEST_OPTIONS), StreamableHTTPError);
      expect([error.code, error.message]).to.deep.equal([403, "Streamable HTTP error: Server returned 403 after trying upscoping"]);
      expect(provider.authorizationUrls).to.have.length(1);
      expect(provider.savedTokens).to.have.length(2);
      expect(decodeJwt(String(provider.tokens()?.access_token))).to.deep.include({ mcp_scopes: ["mcp:tools"] });
    });

    it('refuses a registration sending client_uri "" (as mcp-use does): the Trusted Hosts policy finds no URL in it', async () => {
      const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { registration_endpoint: string };
      const registration = await fetch(discovery.registration_endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ client_name: "mcp-use", client_uri: "", redirect_uris: ["http://127.0.0.1:8976/callback"], token_endpoint_auth_method: "none", grant_types: ["authorization_code"], response_types: ["code"] }),
      });
      expect(registration.status).to.equal(403);
      expect(await registration.json()).to.deep.equal({
        error: "insufficient_scope",
        error_description: "Policy 'Trusted Hosts' rejected request to client-registration service. Details: URL is malformed",
      });
      const provider = signInAs(["alice"], { clientMetadata: { client_uri: "" } });
      const error = await expectRejection(connectWithHeadlessLogin(createClient("sdk-empty-client-uri"), new URL(gateway.mcpEndpoint), provider), Error);
      expect(error.message).to.include("Trusted Hosts");
      expect(provider.authorizationUrls).to.deep.equal([]);
    });

    it("lets such a client in with the pre-registered public client mcp-client instead, step-up included", async () => {
      const provider = signInAs(["alice", "bob"], { clientInformation: { client_id: "mcp-client" }, discardRefreshTokens: true });
      const client = createClient("sdk-static-client");
      await expectStepUpToBob(provider, client, await expectLogin(provider, client, "mcp-client"));
    });

    /** mcp-remote on the gateway, its browser signing in as `users`; resolves to what it printed and how many sign-ins it asked for. */
    async function runMcpRemote(
      extraArguments: readonly string[],
      users: readonly LoginCredentials[],
      use: (client: Client, connect: () => Promise<void>) => Promise<void>,
    ): Promise<{ stderr: string; signIns: number }> {
      const configDirectory = mkdtempSync(join(tmpdir(), "mcp-remote-keycloak-"));
      const browser = join(configDirectory, "browser.sh");
      const stateFile = join(configDirectory, "sign-ins");
      writeFileSync(browser, `#!/bin/sh\nexec "${process.execPath}" --require "${require.resolve("tsx/cjs")}" "${join(__dirname, "headless-browser-main.ts")}" "$1"\n`, { mode: 0o755 });
      const stderr: string[] = [];
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [findMcpRemoteEntry(), gateway.mcpEndpoint, "--transport", "http-only", ...extraArguments],
        env: { ...getDefaultEnvironment(), MCP_REMOTE_CONFIG_DIR: configDirectory, BROWSER: browser, HEADLESS_BROWSER_USERS: JSON.stringify(users), HEADLESS_BROWSER_STATE: stateFile },
        stderr: "pipe",
      });
      transport.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk.toString("utf8")));
      const client = new Client({ name: "through-mcp-remote", version: "1.0.0" });
      try {
        try {
          await use(client, () => client.connect(transport, { timeout: 60_000 }));
        } catch (error) {
          throw new Error(`${String(error)}; mcp-remote said:\n${stderr.join("").slice(-4000)}`);
        }
        return { stderr: stderr.join(""), signIns: existsSync(stateFile) ? Number(readFileSync(stateFile, "utf8")) : 0 };
      } finally {
        await closeMcpRemote(client, transport);
        rmSync(configDirectory, { recursive: true, force: true });
      }
    }

    it("refuses mcp-remote's own registration: its client_uri (github.com) is no trusted host", async () => {
      const { stderr, signIns } = await runMcpRemote([], [], async (_client, connect) => {
        await expectRejection(connect(), Error);
      });
      expect(stderr).to.include("Policy 'Trusted Hosts' rejected request to client-registration service. Details: URL doesn't match any trusted host or trusted domain");
      expect(signIns).to.equal(0);
    });

    it("lets mcp-remote in with the pre-registered mcp-client: alice signs in on Keycloak's page, tools pass the bridge", async () => {
      const { signIns, stderr } = await runMcpRemote(["--static-oauth-client-info", JSON.stringify({ client_id: "mcp-client" })], [findSeedUser("alice")], async (client, connect) => {
        await connect();
        expect((await client.listTools({}, REQUEST_OPTIONS)).tools).to.have.length(22);
        expect(await client.callTool({ name: "math_multiply", arguments: { a: 6, b: 7 } }, undefined, REQUEST_OPTIONS)).to.deep.equal({ content: [{ type: "text", text: "42" }] });
      });
      expect(signIns, stderr).to.equal(1);
    });

  });

  describe("Keycloak's keys", () => {
    let certs: CountingForwarder;

    before(async () => {
      certs = await startCountingForwarder(`${issuer}${CERTS_PATH}`);
      // An absolute jwks_uri (the README's "internal URL"), here one that counts the plugin's fetches.
      // token_cache_ttl 0: every request goes to the key set, whose caching is what is watched here;
      // the shortest cooldown, which the test waits out before each new kid.
      gateway.configure(
        describeReadmeKeycloakConfig(realm, gateway.mcpEndpoint, {
          keycloak_compat: true,
          token_cache_ttl: 0,
          jwks_refetch_cooldown: REFETCH_COOLDOWN_S,
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
      expectRefused(await send(gateway, forged, "tools/list"), "no signing key of the authorization server matches the token", `for kid "${encryption[0]?.kid}"`);
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
      await certs.waitOutCooldown();
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
      // plugin refetch after the cooldown; otherwise the background refresh does it after 5 minutes.
      await addSigningKey("rotated-2", 300);
      const newestToken = await issueMachineToken();
      await certs.waitOutCooldown();
      expectProxied(await send(gateway, newestToken, "tools/list"));
      expectRefused(await send(gateway, oldToken, "tools/list"), "no signing key of the authorization server matches the token", `for kid "${oldKid}"`);
    });
  });
}

/** An HTTP forwarder on 127.0.0.1 that counts the requests it passes on to one URL. */
interface CountingForwarder {
  readonly url: string;
  readonly requests: number;
  /** Resolves once jwks_refetch_cooldown has passed since the last request (an unknown kid may then be fetched). */
  waitOutCooldown(): Promise<void>;
  close(): Promise<void>;
}

async function startCountingForwarder(target: string): Promise<CountingForwarder> {
  let requests = 0;
  let lastRequestAt = 0;
  const server: Server = createServer((_request, response) => {
    requests += 1;
    lastRequestAt = Date.now();
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
    waitOutCooldown: () => new Promise((resolve) => setTimeout(resolve, Math.max(0, lastRequestAt + REFETCH_COOLDOWN_S * 1000 + 100 - Date.now()))),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
