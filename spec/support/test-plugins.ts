// Test plugins, written as compiled JavaScript into a temporary plugins directory (never under
// plugins/). One plugin per directory: Kong 3.9 registers only the first plugin of a server.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * "echo": runs the steps of `config.script` (JSON) in its access phase and, when the script says
 * `answer: true`, exits 200 with what every step returned. A step is `[pdkMethod, ...args]` or a
 * pseudo step: ["sleep", ms], ["throw", message] (a phase exception), ["crash", message] (an uncaught
 * exception that kills the server). Arguments {"$bin": base64} and {"$undefined": true} stand for a
 * Buffer and undefined. A result is {absent: true}, {bin, isBuffer}, {value} or {error}.
 * "echo-response" does the same in the response phase, at a priority above mcp-oauth2's.
 */
const echoPluginSource = (name: string, phase: "access" | "response", priority: number): string => `"use strict";
const decodeArgument = (arg) => {
  if (arg !== null && typeof arg === "object" && !Array.isArray(arg)) {
    if ("$bin" in arg) return Buffer.from(arg.$bin, "base64");
    if ("$undefined" in arg) return undefined;
  }
  return arg;
};
const describe = (value) => {
  if (value === undefined) return { absent: true };
  if (value instanceof Uint8Array) return { bin: Buffer.from(value).toString("base64"), isBuffer: Buffer.isBuffer(value) };
  return { value };
};
class Plugin {
  constructor(config) {
    this.config = config;
  }
  async ${phase}(kong) {
    const script = JSON.parse(this.config.script);
    const results = [];
    for (const [operation, ...args] of script.steps) {
      if (operation === "sleep") {
        await new Promise((resolve) => setTimeout(resolve, args[0]));
        continue;
      }
      if (operation === "throw") throw new Error(args[0]);
      if (operation === "crash") {
        setImmediate(() => { throw new Error(args[0]); });
        await new Promise(() => undefined);
      }
      let target = kong;
      for (const segment of operation.split(".").slice(1)) target = target[segment];
      try {
        results.push(describe(await target(...args.map(decodeArgument))));
      } catch (error) {
        results.push({ error: error.message });
      }
    }
    if (script.answer) {
      const body = JSON.stringify({ marker: this.config.marker, config: this.config, results });
      return kong.response.exit(200, body, { "Content-Type": "application/json" });
    }
  }
}
module.exports = {
  Plugin,
  Name: "${name}",
  Version: "1.0.0",
  Priority: ${priority},
  Schema: [
    { script: { type: "string", required: true, description: "JSON: {steps: [[method, ...args]], answer}" } },
    { marker: { type: "string", default: "unmarked", description: "Echoed back, to tell configs apart" } },
  ],
};
`;

/** A plugin that prints on stdout when imported: it breaks Kong's start under the stock server. */
const PRINTING_PLUGIN_SOURCE = `"use strict";
console.log("printing plugin loaded");
class Plugin {
  async access() {}
}
module.exports = { Plugin, Name: "printing", Version: "1.0.0", Priority: 10, Schema: [] };
`;

/** A plugin that starts a timer at import, as a module-level cache refresher would. */
const LINGERING_PLUGIN_SOURCE = `"use strict";
setInterval(() => undefined, 60000);
class Plugin {
  async access() {}
}
module.exports = { Plugin, Name: "lingering", Version: "1.0.0", Priority: 10, Schema: [] };
`;

const SOURCES = {
  echo: echoPluginSource("echo", "access", 1000),
  "echo-response": echoPluginSource("echo-response", "response", 1301),
  printing: PRINTING_PLUGIN_SOURCE,
  lingering: LINGERING_PLUGIN_SOURCE,
};

/** The test plugins available. */
export type TestPluginName = keyof typeof SOURCES;

/** A temporary plugins directory holding one plugin. */
export interface TestPluginDirectory {
  path: string;
  remove(): void;
}

/** Writes `source` as `fileName` into a new temporary plugins directory (never under plugins/). */
export function writePluginDirectory(fileName: string, source: string): TestPluginDirectory {
  const path = mkdtempSync(join(tmpdir(), "mcp-oauth2-plugins-"));
  writeFileSync(join(path, fileName), source);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Writes the test plugin into a new temporary directory as `<name>.js`. */
export function createTestPluginDirectory(name: TestPluginName): TestPluginDirectory {
  return writePluginDirectory(`${name}.js`, SOURCES[name]);
}

/** One step of an echo script. */
export type EchoStep = [operation: string, ...args: unknown[]];

/** The config of the echo plugin for these steps. */
export function echoConfig(steps: readonly EchoStep[], options: { answer?: boolean; marker?: string } = {}): Record<string, unknown> {
  const config: Record<string, unknown> = { script: JSON.stringify({ steps, answer: options.answer ?? true }) };
  if (options.marker !== undefined) config["marker"] = options.marker;
  return config;
}

/** What the echo plugin reports for one step. */
export interface EchoResult {
  absent?: true;
  bin?: string;
  isBuffer?: boolean;
  value?: unknown;
  error?: string;
}

/** The echo plugin's answer body. */
export interface EchoAnswer {
  marker: string;
  config: Record<string, unknown>;
  results: EchoResult[];
}
