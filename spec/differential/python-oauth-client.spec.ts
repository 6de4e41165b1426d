import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { expect } from "chai";
import { startAuthorizationServer, type AuthorizationServer } from "../../demo/authorization-server";
import { describeMcpRoute } from "../../demo/local-stack";
import type { KongDriver } from "../../kong/driver";
import { loginHeadlessly } from "../support/headless-login";
import { findBuiltListFilterPluginsDirectory, startBuiltPluginDriver } from "../support/plugin-server-fixture";
import { skipBecause } from "../support/skip-suite";
import { installUpstreams, type InstalledUpstreams } from "./upstreams/install";
import { UPSTREAMS } from "./upstreams/registry";
import { startUpstream, type RunningUpstream } from "./upstream-process";

const CLIENT_SCRIPT = join(__dirname, "upstreams", "python", "oauth_client.py");
/** The whole client run (three sign-ins at most, a handful of MCP calls) gives up after this long. */
const CLIENT_TIMEOUT_MS = 90_000;
/** The client's redirect URI: nothing listens there, the headless sign-in stops at the redirect. */
const REDIRECT_URI = "http://127.0.0.1:8976/callback";

interface ClientRun {
  /** Every authorization URL the SDK opened, in order. */
  readonly authorizationUrls: URL[];
  /** The `result` lines, parsed. */
  readonly results: Record<string, unknown>[];
  readonly done: Record<string, unknown> | undefined;
  readonly exitCode: number | null;
  readonly stderr: string;
}

/**
 * Runs the Python SDK's OAuth client against `mcpUrl`, playing its browser: each authorization URL
 * it prints is signed in headlessly as the next of `users`, and the redirect goes back on stdin.
 */
function runPythonClient(interpreter: string, mcpUrl: string, users: readonly { username: string; password: string }[]): Promise<ClientRun> {
  const queue = [...users];
  const run: { authorizationUrls: URL[]; results: Record<string, unknown>[]; done: Record<string, unknown> | undefined } = { authorizationUrls: [], results: [], done: undefined };
  const child = spawn(interpreter, [CLIENT_SCRIPT, "--mcp-url", mcpUrl, "--redirect-uri", REDIRECT_URI], { stdio: ["pipe", "pipe", "pipe"] });
  const stderr: Buffer[] = [];
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), CLIENT_TIMEOUT_MS);
  createInterface({ input: child.stdout }).on("line", (line) => {
    const [kind, ...rest] = line.split(" ");
    const value = rest.join(" ");
    if (kind === "result") run.results.push(JSON.parse(value) as Record<string, unknown>);
    if (kind === "done") run.done = JSON.parse(value) as Record<string, unknown>;
    if (kind !== "authorize") return;
    const url = new URL(value);
    run.authorizationUrls.push(url);
    const user = queue.shift();
    if (user === undefined) {
      child.stdin.end();
      return;
    }
    loginHeadlessly(url, user).then(
      ({ redirectUrl }) => child.stdin.write(`${redirectUrl.href}\n`),
      () => child.stdin.end(),
    );
  });
  return new Promise((resolve) => {
    child.once("close", (exitCode) => {
      clearTimeout(timer);
      resolve({ ...run, exitCode, stderr: Buffer.concat(stderr).toString("utf8") });
    });
  });
}

describe("differential: the MCP Python SDK's OAuth client through the gate in front of the Python SDK server", function () {
  this.timeout(3 * 60_000);
  let installed: InstalledUpstreams;
  let workDirectory: string;
  let upstream: RunningUpstream | undefined;
  let driver: KongDriver;
  let closeDriver: (() => Promise<void>) | undefined;
  let authorizationServer: AuthorizationServer | undefined;
  let mcpEndpoint: string;

  before(async function () {
    this.timeout(15 * 60_000);
    installed = await installUpstreams((line) => console.log(`      ${line}`));
    if (!installed.python.ready) skipBecause(this, `the Python SDK client: ${installed.python.reason}`);
    const python = UPSTREAMS.find((definition) => definition.name === "python");
    if (python === undefined) throw new Error("no python upstream in the registry");
    workDirectory = mkdtempSync(join(tmpdir(), "mcp-oauth2-python-client-"));
    upstream = await startUpstream(python.name, (ranLog) => python.command(installed, ranLog), workDirectory);
    ({ driver, close: closeDriver } = await startBuiltPluginDriver("ours", { nativeGuard: true, otherPluginsDirectories: [findBuiltListFilterPluginsDirectory()] }));
    const gateway = await driver.listen();
    mcpEndpoint = `${gateway.url}/mcp`;
    authorizationServer = await startAuthorizationServer({ port: 0, mcpResourceUrl: mcpEndpoint });
    // The npm start route: every tool but admin_* for mcp:tools (alice), admin_* and resources for mcp:resources (bob).
    driver.configureRoutes([describeMcpRoute(upstream.origin, authorizationServer, mcpEndpoint)]);
  });

  after(async () => {
    await authorizationServer?.close();
    await closeDriver?.();
    await upstream?.close();
    if (workDirectory !== undefined) rmSync(workDirectory, { recursive: true, force: true });
  });

  function findUser(username: string): { username: string; password: string } {
    const user = authorizationServer?.users.find((candidate) => candidate.username === username);
    if (user === undefined) throw new Error(`no demo user ${username}`);
    return user;
  }

  it("discovers, registers, signs alice in with PKCE, lists and calls tools, and steps up to bob after a 403 on a resource", async () => {
    const run = await runPythonClient(installed.python.interpreter, mcpEndpoint, [findUser("alice"), findUser("bob")]);
    expect(run.exitCode, run.stderr.slice(-3000)).to.equal(0);

    const asked = run.authorizationUrls.map((url) => ({
      endpoint: `${url.origin}${url.pathname}`,
      ...Object.fromEntries(["scope", "resource", "code_challenge_method", "redirect_uri"].map((name) => [name, url.searchParams.get(name)])),
    }));
    const authorization = { endpoint: authorizationServer?.authorizationEndpoint, resource: mcpEndpoint, code_challenge_method: "S256", redirect_uri: REDIRECT_URI };
    // The first sign-in asks for scopes_supported (the 401's scope); the step-up for the 403's scope
    // merged into the scope already granted (the SDK keeps what it holds).
    expect(asked).to.deep.equal([
      { ...authorization, scope: "mcp:tools mcp:resources" },
      { ...authorization, scope: "mcp:tools mcp:resources" },
    ]);
    const clientId = run.authorizationUrls[0]?.searchParams.get("client_id");
    expect(clientId, "a dynamically registered client").to.be.a("string").and.not.equal(authorizationServer?.publicClientId);
    expect(run.authorizationUrls[1]?.searchParams.get("client_id"), "the step-up reuses the registration").to.equal(clientId);
    // The list filter leaves admin_wipe out of alice's list: mcp:tools may not call admin_*.
    expect(run.results).to.deep.equal([
      { step: "tools/list", tools: ["weather_now"] },
      { step: "tools/call", text: "weather_now ran", scope: "mcp:tools" },
      { step: "resources/read", text: "public readme", scope: "mcp:tools mcp:resources" },
    ]);
    expect(run.done).to.deep.equal({ client_id: clientId });

    // The upstream ran the tool and, only after the step-up, the resource; the gate refused alice's read.
    const served = (upstream as RunningUpstream).takeRecords().filter((record) => record.event === "served");
    expect(served.map(({ method, item }) => `${method} ${item}`)).to.deep.equal(["tools/call weather_now", "resources/read file:///srv/public/readme.txt"]);
    expect(driver.logs.filter(({ message }) => message.includes("insufficient scope for resources/read file:///srv/public/readme.txt")).map(({ level }) => level)).to.deep.equal(["notice"]);
  });
});
