import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { expect } from "chai";
import { decodeJwt } from "jose";
import { KEYCLOAK_VERSION } from "../../kong/keycloak/local-keycloak";
import { useSeededKeycloak } from "../support/keycloak-fixture";
import { findSeedUser } from "../support/keycloak-realm-checks";
import { requestClientCredentials } from "../support/keycloak-tokens";
import { connectWithHeadlessLogin, HeadlessOAuthClientProvider } from "../support/headless-oauth-client-provider";
import { NPM_START_MAIN, startNpmStart, type NpmStartProcess } from "../support/npm-start-process";
import { assertBuiltFrom, findBuiltPluginsDirectory } from "../support/plugin-server-fixture";

const PROJECT_ROOT = join(__dirname, "..", "..");
/** Keycloak's start on 2 busy cores, then the realm's setup. */
const START_TIMEOUT_MS = 10 * 60_000;

/** The process ids of the process group `group`, read from /proc (field 5 of /proc/<pid>/stat). */
function listProcessGroup(group: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === group;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The children of `parent` whose command line includes `text`. */
function findChildren(parent: number, text: string): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const parentPid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        return parentPid === parent && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("npm start -- --keycloak (dist/demo/main.js with the real Keycloak instead of oidc-provider)", () => {
  let started: NpmStartProcess;
  let child: ChildProcess;
  let stdout: string;
  let mcpEndpoint: string;
  let issuer: string;

  before(async function () {
    // Skips with the suites' one line where Keycloak cannot run; installs it into the cache otherwise.
    await useSeededKeycloak(this);
    this.timeout(START_TIMEOUT_MS);
    for (const sources of ["demo", join("kong", "keycloak")]) assertBuiltFrom(NPM_START_MAIN, join(PROJECT_ROOT, sources));
    findBuiltPluginsDirectory();
    started = await startNpmStart(["--keycloak"]);
    child = started.child;
    stdout = started.stdout();
    mcpEndpoint = /^MCP endpoint: (\S+)$/m.exec(stdout)?.[1] ?? "";
    issuer = /authorization server {2}(\S+)/.exec(stdout)?.[1] ?? "";
  });

  after(() => started?.kill());

  it("prints the lines plain npm start prints, with the same users and machine client", async () => {
    const plain = await startNpmStart();
    const plainStdout = plain.stdout();
    await plain.kill();
    /** Lines without ports and the authorization server's description, which differ by design. */
    const normalize = (text: string) =>
      text
        .trimEnd()
        .split("\n")
        .map((line) => line.replace(/http:\/\/127\.0\.0\.1:\d+/g, "<url>").replace(/^( {2}authorization server {2}\S+ {2})\(.*\)$/, "$1(...)"));
    const lines = stdout.trimEnd().split("\n");
    expect(normalize(stdout)).to.deep.equal(normalize(plainStdout));
    expect(lines.filter((line) => line.startsWith("MCP endpoint: "))).to.deep.equal([`MCP endpoint: ${mcpEndpoint}`]);
    expect(stdout).to.include("alice / alice-password").and.include("bob / bob-password").and.include("mcp-machine / mcp-machine-secret");
    expect(lines[1]).to.match(new RegExp(`\\(Keycloak ${KEYCLOAK_VERSION.replace(/\./g, "\\.")}, realm "mcp" of kong/keycloak/realm-mcp\\.json; admin console http://127\\.0\\.0\\.1:\\d+/admin, admin / \\S+\\)$`));
    expect(started.stderr()).to.include("keycloak: setup: set mapper \"mcp audience\" of client scope mcp:tools: included.custom.audience");
  });

  it("takes an MCP SDK client from the 401 through registration and alice's sign-in on Keycloak's page to the tools", async () => {
    const provider = new HeadlessOAuthClientProvider({ signInAs: () => findSeedUser("alice") });
    const client = new Client({ name: "npm-start-keycloak-spec", version: "1.0.0" });
    try {
      await connectWithHeadlessLogin(client, new URL(mcpEndpoint), provider);
      expect(provider.authorizationUrls[0]?.href.startsWith(`${issuer}/protocol/openid-connect/auth?`)).to.equal(true);
      expect(decodeJwt(String(provider.tokens()?.access_token))).to.deep.include({ iss: issuer, aud: mcpEndpoint, mcp_scopes: ["mcp:tools"] });
      // The demo ACL and its list filter: a member lists every tool of the demo server but admin_*.
      const { tools } = await client.listTools({}, { timeout: 15_000 });
      expect(tools.map(({ name }) => name).filter((name) => name.startsWith("admin_"))).to.deep.equal([]);
      expect(tools).to.have.length(20);
    } finally {
      await client.close();
    }
  });

  it("lets the machine client in with the printed secret", async () => {
    const { access_token: token } = await requestClientCredentials(issuer, "mcp-machine", "mcp-machine-secret");
    const answer = await fetch(mcpEndpoint, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "spec", version: "1" } } }),
      signal: AbortSignal.timeout(15_000),
    });
    expect(answer.status).to.equal(200);
    await answer.body?.cancel();
  });

  it("stops everything on Ctrl-C (SIGINT), Keycloak's JVM included", async function () {
    this.timeout(60_000);
    const [watchdog] = findChildren(child.pid as number, "keycloak-watchdog");
    expect(watchdog, "Keycloak's watchdog, leader of its process group").to.be.a("number");
    expect(listProcessGroup(watchdog as number).length, "the watchdog, kc.sh and the JVM").to.be.at.least(3);
    child.kill("SIGINT");
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).to.equal(0);
    expect(listProcessGroup(watchdog as number)).to.deep.equal([]);
  });
});
