// Start and query commands for the two JavaScript plugin servers the tests compare: ours
// (dist/kong/pluginserver/main.js) and the stock kong-js-pluginserver of kong-pdk 0.6.0.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { KongDriver, type KongDriverOptions } from "./kong-driver";

/** Which plugin server to run. */
export type PluginServerImplementation = "ours" | "stock";

/** What kong.conf's pluginserver_<name>_* settings would hold, as argv. */
export interface PluginServerCommands {
  startCommand: string[];
  queryCommand: string[];
  socketPath: string;
}

/** The checkout (or installed package) this code runs from: the folder holding package.json and kong/. */
export function findProjectRoot(): string {
  for (let directory = __dirname; ; directory = dirname(directory)) {
    if (existsSync(join(directory, "package.json")) && existsSync(join(directory, "kong"))) return directory;
    if (dirname(directory) === directory) throw new Error(`no project root above ${__dirname}`);
  }
}

/** The compiled entry of our plugin server (built by `npm run build`). */
export function ourPluginServerEntry(): string {
  return join(findProjectRoot(), "dist", "kong", "pluginserver", "main.js");
}

/** The plugins directory `npm run build` writes: mcp-oauth2 compiled to JavaScript, as Kong runs it. */
export function builtPluginsDirectory(): string {
  return join(findProjectRoot(), "dist", "plugins");
}

/** The plugins directory of mcp-oauth2-list-filter, served by a plugin server of its own. */
export function builtListFilterPluginsDirectory(): string {
  return join(findProjectRoot(), "dist", "plugins-list-filter");
}

/** The stock kong-js-pluginserver script of kong-pdk. */
export function stockPluginServerEntry(): string {
  return require.resolve("kong-pdk/bin/kong-js-pluginserver");
}

/**
 * Commands for a plugin server serving `pluginsDirectory` on `<socketDirectory>/<socketName>`,
 * run with the current node binary. `extraArguments` go to the start command (e.g. ["-v"]).
 */
export function buildPluginServerCommands(
  implementation: PluginServerImplementation,
  pluginsDirectory: string,
  socketDirectory: string,
  extraArguments: readonly string[] = [],
  socketName = "js_pluginserver.sock",
): PluginServerCommands {
  const entry = implementation === "ours" ? ourPluginServerEntry() : stockPluginServerEntry();
  return {
    startCommand: [process.execPath, entry, "-d", pluginsDirectory, "-p", socketDirectory, "--sock-name", socketName, ...extraArguments],
    queryCommand: [process.execPath, entry, "-d", pluginsDirectory, "--dump-all-plugins"],
    socketPath: join(socketDirectory, socketName),
  };
}

/** How {@link startPluginServerDriver} runs the server, besides the driver's own options. */
export interface PluginServerDriverOptions extends Partial<Omit<KongDriverOptions, keyof PluginServerCommands>> {
  /** Appended to the start command (e.g. ["-v"]). */
  extraArguments?: readonly string[];
  /** What runs the server's script in the start command, instead of this node (e.g. another node, with --cpu-prof). */
  nodeCommand?: readonly string[];
  /** Plugins directories each served by a plugin server of its own after the first (e.g. a test plugin). */
  otherPluginsDirectories?: readonly string[];
}

/** A driver on a plugin server of its own, with the commands that started it. */
export interface PluginServerDriver {
  readonly driver: KongDriver;
  readonly commands: PluginServerCommands;
  /** Closes the driver (stopping the server) and removes the server's socket directory. */
  close(): Promise<void>;
}

/**
 * Starts a plugin server (`implementation`) serving `pluginsDirectory`, its socket in a new
 * temporary directory, and a KongDriver on it. The directory is removed when the start fails and
 * on close(), so that no caller leaves sockets behind.
 */
export async function startPluginServerDriver(
  implementation: PluginServerImplementation,
  pluginsDirectory: string,
  options: PluginServerDriverOptions = {},
): Promise<PluginServerDriver> {
  const { extraArguments, nodeCommand, otherPluginsDirectories = [], ...driverOptions } = options;
  const socketDirectory = await mkdtemp(join(tmpdir(), "mcp-oauth2-sock-"));
  const removeSocketDirectory = () => rm(socketDirectory, { recursive: true, force: true });
  const commandsFor = (directory: string, socketName?: string): PluginServerCommands => {
    const built = buildPluginServerCommands(implementation, directory, socketDirectory, extraArguments, socketName);
    const [, ...script] = built.startCommand;
    return nodeCommand === undefined ? built : { ...built, startCommand: [...nodeCommand, ...script] };
  };
  const commands = commandsFor(pluginsDirectory);
  const otherPluginServers = otherPluginsDirectories.map((directory, index) => commandsFor(directory, `js_pluginserver_${index + 2}.sock`));
  let driver: KongDriver;
  try {
    driver = await KongDriver.start({ ...commands, otherPluginServers, ...driverOptions });
  } catch (error) {
    await removeSocketDirectory();
    throw error;
  }
  return {
    driver,
    commands,
    close: async () => {
      try {
        await driver.close();
      } finally {
        await removeSocketDirectory();
      }
    },
  };
}
