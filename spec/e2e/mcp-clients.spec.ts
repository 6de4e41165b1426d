import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { expect } from "chai";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { startLocalStack, type LocalStack } from "../../demo/local-stack";
import { expectRejection } from "../support/error-assertions";
import { callWithStepUp, connectWithHeadlessLogin, HeadlessOAuthClientProvider } from "../support/headless-oauth-client-provider";
import type { LoginCredentials } from "../support/headless-login";
import { closeMcpRemote, findMcpRemoteEntry } from "../support/mcp-remote";
import { findBuiltPluginsDirectory } from "../support/plugin-server-fixture";

/** Every client request in this suite gives up after this long instead of hanging the run. */
const REQUEST_OPTIONS = { timeout: 15_000 };

/** The demo server's 22 tools but admin_*: what a member (mcp:tools) lists and may call. */
const MEMBER_TOOLS = [
  "weather_current", "weather_forecast", "weather_alerts",
  "math_add", "math_subtract", "math_multiply", "math_divide", "math_power",
  "text_reverse", "text_uppercase", "text_lowercase", "text_word_count", "text_slugify",
  "time_now", "time_add_days", "time_day_of_week",
  "units_celsius_to_fahrenheit", "units_kilometers_to_miles", "hash_sha256", "identity_whoami",
];

/**
 * The `npm start` stack on free ports: oidc-provider shaped like the Keycloak realm, the MCP SDK
 * demo server (22 tools) behind the Kong-protocol gateway with mcp-oauth2 on our plugin server.
 * Real MCP clients start from nothing but the MCP URL.
 */
describe("MCP clients through the gateway (oidc-provider, mcp-oauth2 on our plugin server, the MCP SDK demo server)", () => {
  let stack: LocalStack;
  let endpoint: URL;
  const openClients: Client[] = [];

  before(async () => {
    // The stack runs our plugin server and mcp-oauth2 from dist/: fail when they are older than the sources.
    findBuiltPluginsDirectory();
    stack = await startLocalStack({ gatewayPort: 0, authorizationServerPort: 0, mcpServerPort: 0 });
    endpoint = new URL(stack.mcpEndpoint);
  });
  afterEach(async () => {
    await Promise.all(openClients.splice(0).map((client) => client.close()));
  });
  after(() => stack?.close());

  function createClient(name: string): Client {
    const client = new Client({ name, version: "1.0.0" });
    openClients.push(client);
    return client;
  }

  function findUser(username: string): LoginCredentials {
    const user = stack.authorizationServer.users.find((candidate) => candidate.username === username);
    if (user === undefined) throw new Error(`no demo user ${username}`);
    return user;
  }

  /** A browser that signs in as these users, one per authorization request, in order. */
  function signInAs(...usernames: string[]): HeadlessOAuthClientProvider {
    const queue = usernames.map(findUser);
    return new HeadlessOAuthClientProvider({
      signInAs: () => {
        const next = queue.shift();
        if (next === undefined) throw new Error("an unexpected sign-in was asked for");
        return next;
      },
    });
  }

  function expectNoTokenReachedTheMcpServer(): void {
    const received = stack.mcpServer.receivedRequests();
    expect(received.length).to.be.greaterThan(0);
    for (const request of received) expect(request.headers).not.to.have.property("authorization");
  }

  describe("the MCP SDK client: discovery, dynamic registration, authorization code + PKCE", () => {
    it("starts without a token, follows the 401 to the metadata, registers, signs alice in, then lists and calls tools", async () => {
      const provider = signInAs("alice");
      const client = createClient("sdk-member");
      await connectWithHeadlessLogin(client, endpoint, provider);

      expect(provider.authorizationUrls).to.have.length(1);
      const authorization = provider.authorizationUrls[0] as URL;
      expect(`${authorization.origin}${authorization.pathname}`).to.equal(stack.authorizationServer.authorizationEndpoint);
      const clientId = provider.clientInformation()?.client_id;
      expect(clientId, "a dynamically registered client").to.be.a("string").and.not.equal(stack.authorizationServer.publicClientId);
      expect(Object.fromEntries(["client_id", "scope", "resource", "code_challenge_method"].map((name) => [name, authorization.searchParams.get(name)]))).to.deep.equal({
        client_id: clientId,
        scope: "mcp:tools mcp:resources",
        resource: stack.mcpEndpoint,
        code_challenge_method: "S256",
      });
      expect(decodeJwt(String(provider.tokens()?.access_token))).to.deep.include({
        iss: stack.authorizationServer.issuer,
        aud: [stack.mcpEndpoint, "account"],
        azp: clientId,
        preferred_username: "alice",
        mcp_scopes: ["mcp:tools"],
      });

      const { tools } = await client.listTools({}, REQUEST_OPTIONS);
      expect(tools.map(({ name }) => name)).to.deep.equal(MEMBER_TOOLS);
      expect(await client.callTool({ name: "math_add", arguments: { a: 2, b: 40 } }, undefined, REQUEST_OPTIONS)).to.deep.equal({ content: [{ type: "text", text: "42" }] });
      expectNoTokenReachedTheMcpServer();
    });

    it("keeps the GET SSE stream a stream on the filtered route: a server notification reaches alice while her session is open", async () => {
      const provider = signInAs("alice");
      const client = createClient("sdk-member-stream");
      const changed = new Promise<string>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, (notification) => resolve(notification.method)));
      const transport = await connectWithHeadlessLogin(client, endpoint, provider);
      // The client opens its GET stream on its own after initializing; announce until the stream carries one.
      let received: string | undefined;
      void changed.then((method) => (received = method));
      for (let attempt = 0; attempt < 100 && received === undefined; attempt++) {
        stack.mcpServer.announceToolListChange();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(received).to.equal("notifications/tools/list_changed");
      const streams = stack.mcpServer.receivedRequests().filter((request) => request.method === "GET" && request.headers["mcp-session-id"] === transport.sessionId);
      expect(streams).to.have.length.greaterThan(0);
    });

    it("refuses alice resources/read with 403 insufficient_scope, also after she signs in again to step up", async () => {
      const provider = signInAs("alice", "alice");
      const client = createClient("sdk-member-step-up");
      const transport = await connectWithHeadlessLogin(client, endpoint, provider);
      const logsBefore = stack.driver.logs.length;
      const error = await expectRejection(callWithStepUp(transport, provider, () => client.readResource({ uri: "docs://readme" }, REQUEST_OPTIONS)), StreamableHTTPError);

      expect(error.code).to.equal(403);
      expect(provider.authorizationUrls.map((url) => url.searchParams.get("scope"))).to.deep.equal(["mcp:tools mcp:resources", "mcp:resources mcp:tools"]);
      expect(decodeJwt(String(provider.tokens()?.access_token))).to.deep.include({ preferred_username: "alice", mcp_scopes: ["mcp:tools"] });
      const refusals = stack.driver.logs.slice(logsBefore).filter(({ message }) => message.includes("insufficient scope for resources/read docs://readme"));
      expect(refusals.map(({ level }) => level)).to.deep.equal(["notice", "notice"]);
    });

    it("steps up when bob signs in: the same registration and session then read the resource", async () => {
      const provider = signInAs("alice", "bob");
      const client = createClient("sdk-admin-step-up");
      const transport = await connectWithHeadlessLogin(client, endpoint, provider);
      const clientId = provider.clientInformation()?.client_id;
      const sessionId = transport.sessionId;

      const { contents } = await callWithStepUp(transport, provider, () => client.readResource({ uri: "docs://readme" }, REQUEST_OPTIONS));
      expect(contents[0]).to.include({ uri: "docs://readme" });
      expect(decodeJwt(String(provider.tokens()?.access_token))).to.deep.include({ preferred_username: "bob", azp: clientId, mcp_scopes: ["mcp:tools", "mcp:resources"] });
      expect([provider.clientInformation()?.client_id, transport.sessionId]).to.deep.equal([clientId, sessionId]);
      expect((await client.listPrompts({}, REQUEST_OPTIONS)).prompts.map(({ name }) => name)).to.include("summarize_text");
      expect((await client.listTools({}, REQUEST_OPTIONS)).tools).to.have.length(22);
    });
  });

  describe("machine clients: client_credentials", () => {
    it("the SDK's ClientCredentialsProvider (scope mcp:tools) lists and calls tools; resources are refused with 403", async () => {
      const { clientId, clientSecret } = stack.authorizationServer.machineClient;
      const provider = new ClientCredentialsProvider({ clientId, clientSecret, scope: "mcp:tools", expectedIssuer: stack.authorizationServer.issuer });
      const client = createClient("sdk-machine");
      await client.connect(new StreamableHTTPClientTransport(endpoint, { authProvider: provider }));

      expect(decodeJwt(String(provider.tokens()?.access_token))).to.deep.include({
        aud: [stack.mcpEndpoint, "account"],
        azp: clientId,
        client_id: clientId,
        scope: "mcp:tools",
        mcp_scopes: ["mcp:tools"],
      });
      expect((await client.listTools({}, REQUEST_OPTIONS)).tools.map(({ name }) => name)).to.deep.equal(MEMBER_TOOLS);
      expect(await client.callTool({ name: "text_reverse", arguments: { text: "kong" } }, undefined, REQUEST_OPTIONS)).to.deep.equal({ content: [{ type: "text", text: "gnok" }] });
      const error = await expectRejection(client.listResources({}, REQUEST_OPTIONS), StreamableHTTPError);
      expect(error.code).to.equal(403);
    });

    it("mcp-remote --client-credentials bridges stdio to the gateway: tools work, resources are refused", async () => {
      const configDirectory = mkdtempSync(join(tmpdir(), "mcp-remote-"));
      const { clientId, clientSecret } = stack.authorizationServer.machineClient;
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [
          findMcpRemoteEntry(),
          stack.mcpEndpoint,
          "--transport",
          "http-only",
          "--client-credentials",
          // mcp-remote fills ${...} from its environment: the secret stays out of the command line.
          "--static-oauth-client-info",
          JSON.stringify({ client_id: clientId, client_secret: "${MCP_MACHINE_CLIENT_SECRET}" }),
        ],
        env: { ...getDefaultEnvironment(), MCP_REMOTE_CONFIG_DIR: configDirectory, MCP_MACHINE_CLIENT_SECRET: clientSecret },
        stderr: "ignore",
      });
      const client = createClient("through-mcp-remote");
      try {
        await client.connect(transport, REQUEST_OPTIONS);
        expect((await client.listTools({}, REQUEST_OPTIONS)).tools.map(({ name }) => name)).to.deep.equal(MEMBER_TOOLS);
        expect(await client.callTool({ name: "math_multiply", arguments: { a: 6, b: 7 } }, undefined, REQUEST_OPTIONS)).to.deep.equal({ content: [{ type: "text", text: "42" }] });
        const error = await expectRejection(client.listResources({}, REQUEST_OPTIONS), Error);
        expect(String(error)).to.include("Unauthorized");
        const refusal = stack.driver.logs.at(-1)?.message;
        expect(refusal).to.equal(`mcp-oauth2: 403 on /mcp: insufficient scope for resources/list: token of ${clientId} holds [mcp:tools], would need [mcp:resources mcp:tools]`);
      } finally {
        await closeMcpRemote(client, transport);
        rmSync(configDirectory, { recursive: true, force: true });
      }
    });
  });

  it("refuses with 401 invalid_token a Keycloak-style token, signed by the authorization server, whose only audience is account", async () => {
    const { clientId, clientSecret } = stack.authorizationServer.machineClient;
    // Keycloak's Audience mapper sits on the MCP client scopes: a token granted none names only `account`.
    const issued = await fetch(stack.authorizationServer.tokenEndpoint, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
      signal: AbortSignal.timeout(10_000),
    });
    const token = String(((await issued.json()) as { access_token?: unknown }).access_token);
    expect(decodeJwt(token)).to.deep.include({ iss: stack.authorizationServer.issuer, aud: "account", typ: "Bearer" });
    expect(decodeProtectedHeader(token).kid).to.equal(stack.authorizationServer.signingKeyIds()[0]);

    const client = createClient("account-audience");
    const transport = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    const error = await expectRejection(client.connect(transport, REQUEST_OPTIONS), StreamableHTTPError);
    expect(error.code).to.equal(401);

    const answer = await fetch(endpoint, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(answer.status).to.equal(401);
    expect(answer.headers.get("www-authenticate")).to.equal(
      `Bearer error="invalid_token", error_description="the token is not meant for this resource (audience)", scope="mcp:tools", resource_metadata="${endpoint.origin}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(await answer.json()).to.deep.equal({ error: "invalid_token", error_description: "the token is not meant for this resource (audience)" });
  });
});
