// Starts a KongDriver on a real plugin server (ours or the stock kong-js-pluginserver) serving a
// test plugin from a temporary directory, and cleans everything up.
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildPluginServerCommands,
  KongDriver,
  ourPluginServerEntry,
  type KongDriverOptions,
  type Outcome,
  type PluginServerCommands,
  type PluginServerImplementation,
} from "../../kong/driver";
import { createTestPluginDirectory, type EchoAnswer, type TestPluginName } from "./test-plugins";

/** Both plugin servers, for suites that must pass under each. */
export const PLUGIN_SERVER_IMPLEMENTATIONS: readonly PluginServerImplementation[] = ["ours", "stock"];

/** Fails early when dist/ is missing or older than the plugin server's sources. */
export function assertOurPluginServerIsBuilt(): void {
  const entry = ourPluginServerEntry();
  const sources = join(__dirname, "..", "..", "kong", "pluginserver");
  let builtAt: number;
  try {
    builtAt = statSync(entry).mtimeMs;
  } catch {
    throw new Error(`${entry} is missing: run "npm run build" first`);
  }
  const newestSource = Math.max(...readdirSync(sources).map((file) => statSync(join(sources, file)).mtimeMs));
  if (newestSource > builtAt) throw new Error(`${entry} is older than kong/pluginserver/: run "npm run build" first`);
}

/** A plugin server's commands with its temporary plugins and socket directories. */
export interface PluginServerSetup {
  commands: PluginServerCommands;
  remove(): void;
}

/** Writes a test plugin and builds the commands to serve it with `implementation`. */
export function preparePluginServer(
  implementation: PluginServerImplementation,
  plugin: TestPluginName,
  extraArguments: readonly string[] = [],
): PluginServerSetup {
  if (implementation === "ours") assertOurPluginServerIsBuilt();
  const plugins = createTestPluginDirectory(plugin);
  const socketDirectory = mkdtempSync(join(tmpdir(), "mcp-oauth2-sock-"));
  return {
    commands: buildPluginServerCommands(implementation, plugins.path, socketDirectory, extraArguments),
    remove: () => {
      plugins.remove();
      rmSync(socketDirectory, { recursive: true, force: true });
    },
  };
}

/** A running driver and how to dispose of it. */
export interface DriverFixture {
  driver: KongDriver;
  commands: PluginServerCommands;
  close(): Promise<void>;
}

/** Starts a driver whose plugin server serves the test plugin. */
export async function startDriverFixture(
  implementation: PluginServerImplementation,
  plugin: TestPluginName,
  options: Partial<KongDriverOptions> & { extraArguments?: readonly string[] } = {},
): Promise<DriverFixture> {
  const setup = preparePluginServer(implementation, plugin, options.extraArguments);
  let driver: KongDriver;
  try {
    driver = await KongDriver.start({ ...setup.commands, ...options });
  } catch (error) {
    setup.remove();
    throw error;
  }
  return {
    driver,
    commands: setup.commands,
    close: async () => {
      await driver.close();
      setup.remove();
    },
  };
}

/** The echo plugin's answer in an exit outcome (throws if the request was not answered by the plugin). */
export function readEchoAnswer(outcome: Outcome): EchoAnswer {
  if (outcome.kind !== "exit" || outcome.source !== "plugin") {
    throw new Error(`expected the echo plugin's answer, got ${outcome.kind} ${outcome.kind === "exit" ? `${outcome.source} ${outcome.status}` : ""}`);
  }
  return JSON.parse(outcome.body.toString("utf8")) as EchoAnswer;
}
