// Loads the plugins of a directory with kong-pdk's own Module class, as the stock server does, but
// without ts-node's type-checking: kong-pdk/lib/mod.js calls require("ts-node").register() when it
// is first required, which loads the TypeScript compiler and type-checks every .ts plugin on load.
import { existsSync, readdirSync, statSync } from "node:fs";
import NodeModule from "node:module";
import { dirname, extname, join, parse, resolve } from "node:path";
import type { Module } from "kong-pdk/lib/mod";
import type { Logger } from "./stderr-logger";

const PLUGIN_EXTENSIONS = new Set([".js", ".ts", ".node", ".cjs", ""]);

/** Entries the stock loader skips: hidden files and node_modules. */
function isCandidate(entry: string): boolean {
  return !entry.startsWith(".") && !entry.includes("node_modules");
}

/** Whether any plugin of the directory is TypeScript source (a .ts file, or a folder with only index.ts). */
function containsTypeScriptPlugins(directory: string): boolean {
  return readdirSync(directory)
    .filter(isCandidate)
    .some((entry) => {
      const path = join(directory, entry);
      if (extname(entry) === ".ts") return true;
      if (!statSync(path).isDirectory()) return false;
      const hasJavaScriptIndex = ["index.js", "index.cjs", "package.json"].some((name) => existsSync(join(path, name)));
      return !hasJavaScriptIndex && existsSync(join(path, "index.ts"));
    });
}

/**
 * Decides how kong-pdk's ts-node registration behaves, before kong-pdk/lib/mod.js is required. With
 * TypeScript plugins, ts-node transpiles only (TS_NODE_TRANSPILE_ONLY, unless the environment says
 * otherwise). Without them, the registration is replaced by a no-op so the TypeScript compiler is
 * never loaded: compiled JavaScript needs none of it.
 */
export function prepareTypeScriptLoading(directory: string, logger: Logger): "transpile-only" | "not-loaded" {
  if (containsTypeScriptPlugins(directory)) {
    process.env["TS_NODE_TRANSPILE_ONLY"] ??= "true";
    logger.debug("TypeScript plugins found: ts-node registers without type-checking");
    return "transpile-only";
  }
  const kongPdkLib = dirname(require.resolve("kong-pdk/lib/mod"));
  const tsNodePath = require.resolve("ts-node", { paths: [kongPdkLib] });
  const noOpTsNode = new NodeModule(tsNodePath);
  noOpTsNode.filename = tsNodePath;
  noOpTsNode.loaded = true;
  noOpTsNode.exports = { register: () => undefined };
  require.cache[tsNodePath] = noOpTsNode;
  logger.debug("no TypeScript plugins: ts-node is not loaded");
  return "not-loaded";
}

/**
 * Loads every plugin of the directory (each top-level .js/.ts/.cjs/.node file or folder) as
 * kong-pdk's Module, keyed by its lower-cased Name. A plugin that fails to load is logged and
 * skipped; unlike the stock loader, a folder without an index does not crash the server.
 */
export function loadPluginDirectory(directory: string, logger: Logger): Map<string, Module> {
  // Required here, after prepareTypeScriptLoading, because requiring it registers ts-node.
  const { Module: PluginModule } = require("kong-pdk/lib/mod") as typeof import("kong-pdk/lib/mod");
  const plugins = new Map<string, Module>();
  const absoluteDirectory = resolve(directory);
  for (const entry of readdirSync(absoluteDirectory).filter(isCandidate)) {
    let path: string;
    try {
      path = require.resolve(join(absoluteDirectory, entry));
    } catch (error) {
      logger.warn(`cannot load plugin from ${join(absoluteDirectory, entry)}: ${(error as Error).message.split("\n")[0] ?? ""}`);
      continue;
    }
    const { name, ext } = parse(path);
    if (name === "" || !PLUGIN_EXTENSIONS.has(ext)) continue;
    try {
      const plugin = new PluginModule(name === "index" ? entry : name, path);
      const loaded = plugins.get(plugin.name);
      if (loaded !== undefined) {
        logger.warn(`plugin "${plugin.name}" is already loaded, not loading it again from ${path}`);
        continue;
      }
      plugins.set(plugin.name, plugin);
      logger.debug(`loaded plugin "${plugin.name}" from ${path}`);
    } catch (error) {
      logger.warn(`error loading plugin "${name}" from ${path}: ${(error as Error).stack ?? String(error)}`);
    }
  }
  return plugins;
}
