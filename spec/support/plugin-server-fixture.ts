// Starts a KongDriver on a real plugin server (ours or the stock kong-js-pluginserver) serving a
// test plugin from a temporary directory, or the built mcp-oauth2, and cleans everything up.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildPluginServerCommands,
  builtListFilterPluginsDirectory,
  builtPluginsDirectory,
  ourPluginServerEntry,
  startPluginServerDriver,
  type Outcome,
  type PluginServerCommands,
  type PluginServerDriver,
  type PluginServerDriverOptions,
  type PluginServerImplementation,
} from "../../kong/driver";
import { findNewestModification } from "./newest-modification";
import { createTestPluginDirectory, type EchoAnswer, type TestPluginName } from "./test-plugins";

/** Both plugin servers, for suites that must pass under each. */
export const PLUGIN_SERVER_IMPLEMENTATIONS: readonly PluginServerImplementation[] = ["ours", "stock"];

const PROJECT_ROOT = join(__dirname, "..", "..");

/** Fails early when `compiled` is missing or older than anything under `sources`. */
export function assertBuiltFrom(compiled: string, sources: string): void {
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
  const directory = builtPluginsDirectory();
  assertBuiltFrom(join(directory, "mcp-oauth2", "index.js"), join(PROJECT_ROOT, "plugins", "mcp-oauth2"));
  return directory;
}

/**
 * The plugins directory of mcp-oauth2-list-filter `npm run build` writes, checked fresh like
 * mcp-oauth2's (whose core it runs: that is checked too).
 */
export function findBuiltListFilterPluginsDirectory(): string {
  findBuiltPluginsDirectory();
  const directory = builtListFilterPluginsDirectory();
  assertBuiltFrom(join(directory, "mcp-oauth2-list-filter", "index.js"), join(PROJECT_ROOT, "plugins-list-filter"));
  return directory;
}

/** A plugin server's commands with its temporary plugins and socket directories. */
export interface PluginServerSetup {
  commands: PluginServerCommands;
  remove(): void;
}

/** Writes a test plugin and builds the commands to serve it with `implementation`. */
export function preparePluginServer(implementation: PluginServerImplementation, plugin: TestPluginName): PluginServerSetup {
  if (implementation === "ours") assertOurPluginServerIsBuilt();
  const plugins = createTestPluginDirectory(plugin);
  const socketDirectory = mkdtempSync(join(tmpdir(), "mcp-oauth2-sock-"));
  return {
    commands: buildPluginServerCommands(implementation, plugins.path, socketDirectory),
    remove: () => {
      plugins.remove();
      rmSync(socketDirectory, { recursive: true, force: true });
    },
  };
}

/** A running driver and how to dispose of it. */
export type DriverFixture = PluginServerDriver;

/** Starts a driver whose plugin server serves the test plugin; the plugin's directory goes on close() or a failed start. */
export async function startDriverFixture(
  implementation: PluginServerImplementation,
  plugin: TestPluginName,
  options: PluginServerDriverOptions = {},
): Promise<DriverFixture> {
  if (implementation === "ours") assertOurPluginServerIsBuilt();
  const plugins = createTestPluginDirectory(plugin);
  let fixture: DriverFixture;
  try {
    fixture = await startPluginServerDriver(implementation, plugins.path, options);
  } catch (error) {
    plugins.remove();
    throw error;
  }
  return {
    ...fixture,
    close: async () => {
      try {
        await fixture.close();
      } finally {
        plugins.remove();
      }
    },
  };
}

/** Options of {@link startBuiltPluginDriver}. */
export interface BuiltPluginDriverOptions extends PluginServerDriverOptions {
  /** A plugins directory serving a plugin named mcp-oauth2 (default: the built one, checked fresh). */
  pluginsDirectory?: string;
}

/**
 * Starts a driver whose plugin server (`implementation`) serves this checkout's built mcp-oauth2
 * from dist/plugins, as Kong would run it, or the plugins directory given. The stock server
 * resolves plugins against its own directory, hence the absolute path.
 */
export async function startBuiltPluginDriver(implementation: PluginServerImplementation, options: BuiltPluginDriverOptions = {}): Promise<DriverFixture> {
  const { pluginsDirectory = findBuiltPluginsDirectory(), ...driverOptions } = options;
  return startPluginServerDriver(implementation, pluginsDirectory, driverOptions);
}

/** The echo plugin's answer in an exit outcome (throws if the request was not answered by the plugin). */
export function readEchoAnswer(outcome: Outcome): EchoAnswer {
  if (outcome.kind !== "exit" || outcome.source !== "plugin") {
    throw new Error(`expected the echo plugin's answer, got ${outcome.kind} ${outcome.kind === "exit" ? `${outcome.source} ${outcome.status}` : ""}`);
  }
  return JSON.parse(outcome.body.toString("utf8")) as EchoAnswer;
}
