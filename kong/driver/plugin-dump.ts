// What Kong does with `pluginserver_<name>_query_cmd` (kong/runloop/plugin_servers/process.lua):
// run it, read stdout as one JSON array of plugin infos, register the first.
import { spawn } from "node:child_process";
import type { SchemaField } from "./schema-defaults";

/** A plugin's schema as a plugin server dumps it: `config` is the only field Kong reads here. */
export interface PluginSchema {
  name: string;
  fields: Array<Record<string, SchemaField>>;
}

/** One entry of the `--dump-all-plugins` array. */
export interface PluginInfo {
  Name: string;
  Version: string;
  Priority: number;
  Phases: string[];
  Schema: PluginSchema;
}

/** How to run a command: argv plus environment and working directory. */
export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** The query command failed or printed something Kong could not use. */
export class PluginDumpError extends Error {
  override readonly name = "PluginDumpError";
}

const OUTPUT_EXCERPT_LENGTH = 300;

function excerpt(text: string): string {
  const shown = text.length > OUTPUT_EXCERPT_LENGTH ? `${text.slice(0, OUTPUT_EXCERPT_LENGTH)}…` : text;
  return JSON.stringify(shown);
}

function runToCompletion(
  command: readonly string[],
  options: CommandOptions,
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string; exitCode: number | null }> {
  const [executable, ...args] = command;
  if (executable === undefined) return Promise.reject(new PluginDumpError("the query command is empty"));
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { env: options.env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new PluginDumpError(`cannot run the query command ${JSON.stringify(command)}: ${error.message}`));
    });
    child.once("close", (exitCode) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8"), exitCode });
    });
  });
}

function checkPluginInfo(candidate: unknown, index: number): PluginInfo {
  const info = candidate as Partial<PluginInfo> | null;
  const where = `plugin info #${index + 1}`;
  if (typeof info !== "object" || info === null || Array.isArray(info)) throw new PluginDumpError(`${where} is not an object`);
  if (typeof info.Name !== "string" || info.Name === "") throw new PluginDumpError(`${where} has no Name`);
  if (!Number.isInteger(info.Priority)) {
    throw new PluginDumpError(`Plugin "${info.Name}" cannot be loaded because its PRIORITY field is not a valid integer number`);
  }
  if (typeof info.Version !== "string" || !/^\d+(\.\d+){0,2}$/.test(info.Version)) {
    throw new PluginDumpError(`Plugin "${info.Name}" cannot be loaded because its VERSION field does not follow the "x.y.z" format`);
  }
  if (!Array.isArray(info.Phases)) throw new PluginDumpError(`Plugin "${info.Name}" has no Phases array`);
  if (typeof info.Schema !== "object" || info.Schema === null || !Array.isArray(info.Schema.fields)) {
    throw new PluginDumpError(`Plugin "${info.Name}" has no Schema with fields`);
  }
  return info as PluginInfo;
}

/**
 * Runs the query command and returns the plugin infos. Stdout must be exactly one JSON array (a
 * trailing newline allowed): a line printed at import, a warning or a second document is an error,
 * as it breaks Kong's start.
 */
export async function queryPluginDump(
  queryCommand: readonly string[],
  options: CommandOptions = {},
  timeoutMs = 30_000,
): Promise<PluginInfo[]> {
  const { stdout, stderr, exitCode } = await runToCompletion(queryCommand, options, timeoutMs);
  if (exitCode !== 0) {
    throw new PluginDumpError(`the query command exited with ${String(exitCode)}; stderr: ${excerpt(stderr)}`);
  }
  const document = stdout.endsWith("\n") ? stdout.slice(0, -1) : stdout;
  if (!document.startsWith("[") || !document.endsWith("]")) {
    throw new PluginDumpError(`the query command's stdout is not exactly one JSON array: ${excerpt(stdout)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch (error) {
    throw new PluginDumpError(`the query command's stdout is not valid JSON (${(error as Error).message}): ${excerpt(stdout)}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new PluginDumpError("the query command dumped no plugin");
  return parsed.map(checkPluginInfo);
}
