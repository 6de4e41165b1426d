import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { expect } from "chai";
import { decodeJwt } from "jose";
import { DockerComposeEnvironment, getContainerRuntimeClient, type StartedDockerComposeEnvironment, Wait } from "testcontainers";
import { skipBecause } from "../support/skip-suite";
import { REPOSITORY_ROOT } from "./deploy-files";

/** The public URLs docker-compose.yml publishes on the host, as kong/kong.yml announces them. */
const MCP_URL = "http://localhost:8000/mcp";
const METADATA_URL = "http://localhost:8000/.well-known/oauth-protected-resource/mcp";
const ISSUER = "http://localhost:8180/realms/mcp";
const TOKEN_ENDPOINT = `${ISSUER}/protocol/openid-connect/token`;

/** Building both images and starting Keycloak can take minutes on a cold machine. */
const STARTUP_TIMEOUT_MS = 15 * 60_000;

async function requestToken(form: Record<string, string>): Promise<string> {
  const response = await fetch(TOKEN_ENDPOINT, { method: "POST", body: new URLSearchParams(form) });
  // The error body names the cause (invalid_grant, invalid_scope...) and never holds a token.
  if (response.status !== 200) throw new Error(`Keycloak token endpoint answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

function requestUserToken(username: "alice" | "bob", scope: string): Promise<string> {
  return requestToken({ grant_type: "password", client_id: "mcp-dev-cli", username, password: `${username}-password`, scope });
}

/** One JSON-RPC request posted to Kong as MCP Streamable HTTP does, without a session. */
function postJsonRpc(method: string, params: Record<string, unknown>, token?: string): Promise<Response> {
  return fetch(MCP_URL, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      Origin: "http://localhost:6274",
      ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
}

describe("docker: real Kong 3.9 and Keycloak 26 (docker-compose.yml)", () => {
  let environment: StartedDockerComposeEnvironment | undefined;
  const clients: Client[] = [];

  /** An MCP SDK client connected to Kong with this token, closed after the suite. */
  async function connectAs(token: string): Promise<Client> {
    const client = new Client({ name: "mcp-oauth2-docker-suite", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(MCP_URL), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  }

  before(async function () {
    this.timeout(STARTUP_TIMEOUT_MS);
    try {
      await getContainerRuntimeClient();
    } catch (error) {
      skipBecause(this, `no container runtime for the Kong + Keycloak stack (${(error as Error).message})`);
    }
    environment = await new DockerComposeEnvironment(REPOSITORY_ROOT, "docker-compose.yml")
      .withBuild()
      .withWaitStrategy("keycloak-1", Wait.forHealthCheck())
      .withWaitStrategy("mcp-demo-1", Wait.forHealthCheck())
      // `kong health` passes once nginx runs; the metadata document needs the plugin server too.
      .withWaitStrategy("kong-1", Wait.forHttp("/.well-known/oauth-protected-resource/mcp", 8000).forStatusCode(200))
      .withStartupTimeout(STARTUP_TIMEOUT_MS)
      .up();
  });

  after(async function () {
    this.timeout(120_000);
    await Promise.all(clients.map((client) => client.close()));
    await environment?.down();
  });

  it("serves the protected resource metadata for /mcp (RFC 9728)", async () => {
    const response = await fetch(METADATA_URL);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({
      resource: MCP_URL,
      authorization_servers: [ISSUER],
      scopes_supported: ["mcp:tools", "mcp:resources"],
      bearer_methods_supported: ["header"],
      resource_name: "Demo MCP server behind Kong",
    });
  });

  it("answers a request without a token with 401 and a challenge browsers may read", async () => {
    const response = await postJsonRpc("tools/list", {});
    expect(response.status).to.equal(401);
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).to.match(/^Bearer /);
    expect(challenge).to.include(`resource_metadata="${METADATA_URL}"`);
    expect(challenge).not.to.include("error=");
    expect(response.headers.get("access-control-allow-origin")).to.equal("*");
    expect(response.headers.get("access-control-expose-headers")?.split(",")).to.include("WWW-Authenticate");
  });

  it("refuses a Keycloak token that was not issued for the MCP server (no audience) with 401 invalid_token", async () => {
    const token = await requestUserToken("bob", "profile");
    const response = await postJsonRpc("tools/list", {}, token);
    expect(response.status).to.equal(401);
    expect(response.headers.get("www-authenticate")).to.include('error="invalid_token"');
  });

  it("lets the machine client (client_credentials, role mcp:tools) list tools", async () => {
    const token = await requestToken({ grant_type: "client_credentials", client_id: "mcp-machine", client_secret: "mcp-machine-secret" });
    expect(decodeJwt(token)).to.deep.include({ iss: ISSUER, mcp_scopes: ["mcp:tools"] });
    const { tools } = await (await connectAs(token)).listTools();
    expect(tools.map((tool) => tool.name)).to.include("weather_current").and.not.include("admin_list_sessions");
  });

  describe("alice (group mcp-member)", () => {
    let token: string;

    before(async () => {
      token = await requestUserToken("alice", "mcp:tools mcp:resources");
    });

    it("gets only the scope her role allows, although she asked for both", () => {
      const claims = decodeJwt(token);
      expect(claims.mcp_scopes).to.deep.equal(["mcp:tools"]);
      expect(claims.aud).to.include(MCP_URL);
    });

    it("lists only the tools she may call: every one but admin_* (mcp-oauth2-list-filter)", async () => {
      const { tools } = await (await connectAs(token)).listTools();
      expect(tools).to.have.length(20);
      expect(tools.filter((tool) => tool.name.startsWith("admin_"))).to.deep.equal([]);
    });

    it("gets her GET SSE stream as a stream: Kong sends its head at once instead of buffering it", async () => {
      const client = await connectAs(token);
      const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId ?? "";
      const stream = await fetch(MCP_URL, {
        headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream", "Mcp-Session-Id": sessionId, "MCP-Protocol-Version": "2025-06-18" },
        signal: AbortSignal.timeout(10_000),
      });
      // A buffered stream would not answer before it ends, which an open session's stream never does.
      expect([stream.status, stream.headers.get("content-type")]).to.deep.equal([200, "text/event-stream"]);
      await stream.body?.cancel();
    });

    it("may not read resources: 403 insufficient_scope asking for mcp:resources", async () => {
      const response = await postJsonRpc("resources/read", { uri: "docs://readme" }, token);
      expect(response.status).to.equal(403);
      const challenge = response.headers.get("www-authenticate") ?? "";
      expect(challenge).to.include('error="insufficient_scope"');
      expect(/scope="([^"]*)"/.exec(challenge)?.[1]?.split(" ")).to.include("mcp:resources");
      expect(challenge).to.include(`resource_metadata="${METADATA_URL}"`);
    });
  });

  describe("bob (group mcp-admin)", () => {
    let token: string;

    before(async () => {
      token = await requestUserToken("bob", "mcp:tools mcp:resources");
    });

    it("gets both scopes", () => {
      expect(decodeJwt(token).mcp_scopes).to.have.members(["mcp:tools", "mcp:resources"]);
    });

    it("may read resources", async () => {
      const { contents } = await (await connectAs(token)).readResource({ uri: "docs://readme" });
      expect(contents.map((content) => content.uri)).to.deep.equal(["docs://readme"]);
    });

    it("lists all 22 tools", async () => {
      expect((await (await connectAs(token)).listTools()).tools).to.have.length(22);
    });
  });
});
