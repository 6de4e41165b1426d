// Starts a KongDriver on a real plugin server (ours or the stock kong-js-pluginserver) serving a
// test plugin from a temporary directory, or the built mcp-oauth2, and cleans everything up.
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

const PROJECT_ROOT = join(__dirname, "..", "..");

/** The newest modification time of the files under `directory`, at any depth. */
function findNewestModification(directory: string): number {
  return Math.max(
    ...readdirSync(directory, { withFileTypes: true }).map((entry) => {
      const path = join(directory, entry.name);
      return entry.isDirectory() ? findNewestModification(path) : statSync(path).mtimeMs;
    }),
  );
}

/** Fails early when `compiled` is missing or older than a file under `sources`. */
function assertBuiltFrom(compiled: string, sources: string): void {
  let builtAt: number;
  try {
    builtAt = statSync(compiled).mtimeMs;
  } catch {
    throw new Error(`${compiled} is missing: run "npm run build" first`);
  }
  if (findNewestModification(sources) > builtAt) throw new Error(`${compiled} is older than ${sources}: run "npm run build" first`);
}

/** Fails early when dist/ is missing or older than the plugin server's sources. */
export function assertOurPluginServerIsBuilt(): void {
  assertBuiltFrom(ourPluginServerEntry(), join(PROJECT_ROOT, "kong", "pluginserver"));
}

/**
 * The plugins directory `npm run build` writes (mcp-oauth2 compiled to JavaScript, as Kong runs
 * it), after checking that it and our plugin server were built from the current sources.
 */
export function findBuiltPluginsDirectory(): string {
  assertOurPluginServerIsBuilt();
  const directory = join(PROJECT_ROOT, "dist", "plugins");
  assertBuiltFrom(join(directory, "mcp-oauth2", "index.js"), join(PROJECT_ROOT, "plugins", "mcp-oauth2"));
  return directory;
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

/** Starts a driver on a prepared plugin server; the setup is removed when the driver cannot start. */
async function startDriverOn(setup: PluginServerSetup, options: Partial<KongDriverOptions>): Promise<DriverFixture> {
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

/** Starts a driver whose plugin server serves the test plugin. */
export async function startDriverFixture(
  implementation: PluginServerImplementation,
  plugin: TestPluginName,
  options: Partial<KongDriverOptions> & { extraArguments?: readonly string[] } = {},
): Promise<DriverFixture> {
  return startDriverOn(preparePluginServer(implementation, plugin, options.extraArguments), options);
}

/**
 * Starts a driver whose plugin server (`implementation`) serves this checkout's built mcp-oauth2
 * from dist/plugins, as Kong would run it. The stock server resolves plugins against its own
 * directory, hence the absolute path.
 */
export async function startBuiltPluginDriver(implementation: PluginServerImplementation, options: Partial<KongDriverOptions> = {}): Promise<DriverFixture> {
  const pluginsDirectory = findBuiltPluginsDirectory();
  const socketDirectory = mkdtempSync(join(tmpdir(), "mcp-oauth2-sock-"));
  return startDriverOn(
    {
      commands: buildPluginServerCommands(implementation, pluginsDirectory, socketDirectory),
      remove: () => rmSync(socketDirectory, { recursive: true, force: true }),
    },
    options,
  );
}

/** The echo plugin's answer in an exit outcome (throws if the request was not answered by the plugin). */
export function readEchoAnswer(outcome: Outcome): EchoAnswer {
  if (outcome.kind !== "exit" || outcome.source !== "plugin") {
    throw new Error(`expected the echo plugin's answer, got ${outcome.kind} ${outcome.kind === "exit" ? `${outcome.source} ${outcome.status}` : ""}`);
  }
  return JSON.parse(outcome.body.toString("utf8")) as EchoAnswer;
}
