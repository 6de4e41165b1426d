import { expect } from "chai";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { decode } from "@msgpack/msgpack";
import { ourPluginServerEntry } from "../../../kong/driver";
import { assertOurPluginServerIsBuilt, startDriverFixture } from "../../support/plugin-server-fixture";
import { createTestPluginDirectory, type TestPluginDirectory } from "../../support/test-plugins";
import { routeToEcho } from "../echo-route";

const run = promisify(execFile);

const ECHO_INFO = {
  Name: "echo",
  Version: "1.0.0",
  Phases: ["access"],
  Priority: 1000,
  Schema: {
    name: "echo",
    fields: [
      {
        config: {
          type: "record",
          fields: [
            { script: { type: "string", required: true, description: "JSON: {steps: [[method, ...args]], answer}" } },
            { marker: { type: "string", default: "unmarked", description: "Echoed back, to tell configs apart" } },
          ],
        },
      },
    ],
  },
};

describe("our plugin server's command line", () => {
  let echo: TestPluginDirectory;

  before(() => {
    assertOurPluginServerIsBuilt();
    echo = createTestPluginDirectory("echo");
  });
  after(() => echo?.remove());

  it("--dump-all-plugins prints exactly one JSON array line and nothing else", async () => {
    const { stdout } = await run(process.execPath, [ourPluginServerEntry(), "-d", echo.path, "--dump-all-plugins"]);
    expect(stdout).to.equal(`${JSON.stringify([ECHO_INFO])}\n`);
  });

  it("--dump-plugin-info prints the plugin's info as msgpack", async () => {
    const { stdout } = await run(process.execPath, [ourPluginServerEntry(), "-d", echo.path, "--dump-plugin-info", "echo"], {
      encoding: "buffer",
    });
    expect(decode(stdout)).to.deep.equal(ECHO_INFO);
  });

  it("--dump-all-plugins exits even when a plugin left a timer running", async () => {
    const lingering = createTestPluginDirectory("lingering");
    try {
      const { stdout } = await run(process.execPath, [ourPluginServerEntry(), "-d", lingering.path, "--dump-all-plugins"], { timeout: 20_000 });
      expect((JSON.parse(stdout) as Array<{ Name: string }>).map(({ Name }) => Name)).to.deep.equal(["lingering"]);
    } finally {
      lingering.remove();
    }
  });

  it("--version names both versions", async () => {
    const { stdout } = await run(process.execPath, [ourPluginServerEntry(), "--version"]);
    expect(stdout).to.match(/^mcp-oauth2-pluginserver \d+\.\d+\.\d+ \(kong-pdk 0\.6\.0\)\n$/);
  });

  it("stops on SIGTERM: exit code 0, socket removed", async () => {
    const prefix = mkdtempSync(join(tmpdir(), "mcp-oauth2-sock-"));
    const socketPath = join(prefix, "js_pluginserver.sock");
    try {
      const child = spawn(process.execPath, [ourPluginServerEntry(), "-d", echo.path, "-p", prefix], { stdio: ["ignore", "ignore", "pipe"] });
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      await new Promise<void>((resolve) => {
        child.stderr.on("data", (chunk: Buffer) => {
          if (chunk.toString().includes("server started")) resolve();
        });
      });
      expect(existsSync(socketPath)).to.equal(true);
      child.kill("SIGTERM");
      expect(await exited).to.equal(0);
      expect(existsSync(socketPath)).to.equal(false);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });

  it("-v logs RPC method names, never their arguments", async () => {
    const fixture = await startDriverFixture("ours", "echo", { extraArguments: ["-v"] });
    try {
      routeToEcho(fixture.driver, [["kong.request.get_headers"]]);
      const outcome = await fixture.driver.handle({ method: "GET", path: "/", headers: [["Authorization", "Bearer eyJ.secret-token.sig"]] });
      expect(outcome).to.include({ kind: "exit", status: 200 });
      const log = fixture.driver.serverStderr.join("\n");
      expect(log).to.include("method: plugin.HandleEvent").and.include("method: plugin.StepMultiMap");
      expect(log).not.to.include("secret-token");
      expect(fixture.driver.serverStdout).to.deep.equal([]);
    } finally {
      await fixture.close();
    }
  });
});
