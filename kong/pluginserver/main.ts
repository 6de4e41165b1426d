#!/usr/bin/env node
// mcp-oauth2-pluginserver: Kong's JavaScript plugin server, on kong-pdk's classes, with the stock
// kong-js-pluginserver's defects fixed. Stdout carries only the dumps; logs go to stderr.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { encode } from "@msgpack/msgpack";
import { parseCommandLine, USAGE, type PluginServerCommandLine } from "./command-line";
import { loadPluginDirectory, prepareTypeScriptLoading } from "./plugin-directory";
import { PluginServer } from "./plugin-server";
import { listenForRpc, type RpcListener } from "./rpc-listener";
import { createStderrLogger } from "./stderr-logger";

/**
 * Sends everything but the dumps to stderr: a plugin that prints at import (or at any time) cannot
 * corrupt the JSON array Kong parses. Returns the real stdout writer.
 */
function reserveStdout(): (data: string | Uint8Array) => Promise<void> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  return (data) => new Promise((resolve, reject) => write(data, (error) => (error ? reject(error) : resolve())));
}

/** The nearest package.json above this file: the project's, from dist/ or from the sources. */
function findOwnPackageJson(): string {
  let directory = __dirname;
  while (!existsSync(join(directory, "package.json")) && dirname(directory) !== directory) directory = dirname(directory);
  return join(directory, "package.json");
}

function readVersion(): string {
  const ownPackage = JSON.parse(readFileSync(findOwnPackageJson(), "utf8")) as { version: string };
  const kongPdk = JSON.parse(readFileSync(require.resolve("kong-pdk/package.json"), "utf8")) as { version: string };
  return `mcp-oauth2-pluginserver ${ownPackage.version} (kong-pdk ${kongPdk.version})`;
}

async function run(commandLine: PluginServerCommandLine, writeStdout: (data: string | Uint8Array) => Promise<void>): Promise<void> {
  const logger = createStderrLogger(commandLine.verbose);
  const directory = commandLine.pluginsDirectory;
  if (directory === undefined) throw new TypeError("missing -d/--plugins-directory");
  prepareTypeScriptLoading(directory, logger);
  const plugins = loadPluginDirectory(directory, logger);
  const server = new PluginServer(plugins, logger);

  if (commandLine.dumpAllPlugins) {
    await writeStdout(`${JSON.stringify([...plugins.keys()].map((name) => server.getPluginInfo(name)))}\n`);
    // Exit even if a plugin left timers running: Kong waits for the query command to end.
    process.exit(0);
  }
  if (commandLine.dumpPluginInfo !== undefined) {
    await writeStdout(encode(server.getPluginInfo(commandLine.dumpPluginInfo)));
    process.exit(0);
  }

  // Handlers first: Kong (or a test) may signal as soon as the socket accepts connections.
  let listener: RpcListener | undefined;
  const stop = (signal: NodeJS.Signals): void => {
    logger.info(`${signal}: stopping`);
    server.close();
    void (listener?.close() ?? Promise.resolve()).then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  listener = await listenForRpc(join(commandLine.kongPrefix, commandLine.sockName), server.methods, logger);
}

function main(): void {
  const writeStdout = reserveStdout();
  let commandLine: PluginServerCommandLine;
  try {
    commandLine = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (commandLine.help || commandLine.version) {
    void writeStdout(commandLine.help ? USAGE : `${readVersion()}\n`);
    return;
  }
  run(commandLine, writeStdout).catch((error: unknown) => {
    process.stderr.write(`mcp-oauth2-pluginserver: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}

main();
