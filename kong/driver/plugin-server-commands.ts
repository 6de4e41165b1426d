// Start and query commands for the two JavaScript plugin servers the tests compare: ours
// (dist/kong/pluginserver/main.js) and the stock kong-js-pluginserver of kong-pdk 0.6.0.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** Which plugin server to run. */
export type PluginServerImplementation = "ours" | "stock";

/** What kong.conf's pluginserver_<name>_* settings would hold, as argv. */
export interface PluginServerCommands {
  startCommand: string[];
  queryCommand: string[];
  socketPath: string;
}

function findProjectRoot(): string {
  for (let directory = __dirname; ; directory = dirname(directory)) {
    if (existsSync(join(directory, "package.json")) && existsSync(join(directory, "kong"))) return directory;
    if (dirname(directory) === directory) throw new Error(`no project root above ${__dirname}`);
  }
}

/** The compiled entry of our plugin server (built by `npm run build`). */
export function ourPluginServerEntry(): string {
  return join(findProjectRoot(), "dist", "kong", "pluginserver", "main.js");
}

/** The stock kong-js-pluginserver script of kong-pdk. */
export function stockPluginServerEntry(): string {
  return require.resolve("kong-pdk/bin/kong-js-pluginserver");
}

/**
 * Commands for a plugin server serving `pluginsDirectory` on `<socketDirectory>/js_pluginserver.sock`,
 * run with the current node binary. `extraArguments` go to the start command (e.g. ["-v"]).
 */
export function buildPluginServerCommands(
  implementation: PluginServerImplementation,
  pluginsDirectory: string,
  socketDirectory: string,
  extraArguments: readonly string[] = [],
): PluginServerCommands {
  const entry = implementation === "ours" ? ourPluginServerEntry() : stockPluginServerEntry();
  const socketName = "js_pluginserver.sock";
  return {
    startCommand: [process.execPath, entry, "-d", pluginsDirectory, "-p", socketDirectory, "--sock-name", socketName, ...extraArguments],
    queryCommand: [process.execPath, entry, "-d", pluginsDirectory, "--dump-all-plugins"],
    socketPath: join(socketDirectory, socketName),
  };
}
