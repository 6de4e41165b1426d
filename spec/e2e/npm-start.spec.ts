import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { expect } from "chai";
import { connectWithHeadlessLogin, HeadlessOAuthClientProvider } from "../support/headless-oauth-client-provider";
import { NPM_START_MAIN, startNpmStart, type NpmStartProcess } from "../support/npm-start-process";
import { assertBuiltFrom, findBuiltPluginsDirectory } from "../support/plugin-server-fixture";

const PROJECT_ROOT = join(__dirname, "..", "..");

/** `npm start` as a user runs it (after `npm run build`), on free ports. */
describe("npm start (dist/demo/main.js)", () => {
  let started: NpmStartProcess;
  let child: ChildProcess;
  let stdout = "";
  let mcpEndpoint: string;

  before(async () => {
    // npm start runs dist/: fail when the demo, the driver under it, our plugin server or mcp-oauth2 is older than its sources.
    for (const sources of ["demo", join("kong", "driver")]) assertBuiltFrom(NPM_START_MAIN, join(PROJECT_ROOT, sources));
    findBuiltPluginsDirectory();
    started = await startNpmStart();
    child = started.child;
    stdout = started.stdout();
    mcpEndpoint = /^MCP endpoint: (\S+)$/m.exec(stdout)?.[1] ?? "";
  });

  after(() => started?.kill());

  it("runs the entry npm start runs, after its build", () => {
    const { scripts } = JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(scripts.start).to.equal("npm run build && exec node dist/demo/main.js");
  });

  it("prints one MCP endpoint line, the users and the machine client", () => {
    expect(stdout.match(/^MCP endpoint: /gm)).to.have.length(1);
    expect(mcpEndpoint).to.match(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(stdout).to.include("alice / alice-password").and.to.include("bob / bob-password");
    expect(stdout).to.include("mcp-machine / mcp-machine-secret");
    // Plain npm start runs no Keycloak: the built-in authorization server stands in for it.
    expect(stdout).to.match(/authorization server {2}http:\/\/127\.0\.0\.1:\d+\/realms\/mcp {2}\(oidc-provider shaped like the Keycloak realm "mcp"\)\n/);
  });

  it("guards the endpoint with the plugin and publishes its metadata", async () => {
    const unauthenticated = await fetch(mcpEndpoint, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }),
    });
    expect(unauthenticated.status).to.equal(401);
    const metadataUrl = new URL("/.well-known/oauth-protected-resource/mcp", mcpEndpoint).href;
    expect(unauthenticated.headers.get("www-authenticate")).to.include(`resource_metadata="${metadataUrl}"`);
    const metadata = (await (await fetch(metadataUrl)).json()) as Record<string, unknown>;
    const issuer = /authorization server {2}(\S+)/.exec(stdout)?.[1];
    expect(metadata).to.deep.include({ resource: mcpEndpoint, authorization_servers: [issuer], scopes_supported: ["mcp:tools", "mcp:resources"] });
  });

  it("takes an MCP SDK client from the 401 through registration and alice's sign-in to the tools", async () => {
    const provider = new HeadlessOAuthClientProvider({ signInAs: () => ({ username: "alice", password: "alice-password" }) });
    const client = new Client({ name: "npm-start-spec", version: "1.0.0" });
    try {
      await connectWithHeadlessLogin(client, new URL(mcpEndpoint), provider);
      expect(provider.authorizationUrls).to.have.length(1);
      const { tools } = await client.listTools({}, { timeout: 15_000 });
      expect(tools.map(({ name }) => name)).to.include("identity_whoami");
      const whoami = await client.callTool({ name: "identity_whoami", arguments: {} }, undefined, { timeout: 15_000 });
      // The demo server lists the headers it received: the gateway kept the token header to itself.
      const [answer] = whoami.content as Array<{ type: string; text: string }>;
      const receivedHeaders = JSON.parse(String(answer?.text)) as Record<string, string>;
      expect(receivedHeaders).to.include({ via: "1.1 kong/3.9.1" });
      expect(receivedHeaders).not.to.have.property("authorization");
    } finally {
      await client.close();
    }
  });

  it("stops everything on SIGTERM and exits 0", async () => {
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    expect(code).to.equal(0);
    expect(started.stdout()).to.include("SIGTERM: stopping\nstopped\n");
    const refused = await fetch(mcpEndpoint).then(
      () => "answered",
      () => "refused",
    );
    expect(refused).to.equal("refused");
  });
});
