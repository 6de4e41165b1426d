// Real Lua for the tests that check what Kong's Lua does with a pattern: Debian's luajit (the
// runtime family Kong runs on), else lua5.1. `.ci/run` installs luajit.
import { spawnSync } from "node:child_process";

const CANDIDATES = ["luajit", "lua5.1"];
const MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

/** The first Lua interpreter on the PATH, or undefined when there is none. */
export function findLuaInterpreter(): string | undefined {
  return CANDIDATES.find((name) => spawnSync(name, ["-e", ""], { stdio: "ignore" }).status === 0);
}

/** A Lua string literal holding exactly these bytes (a byte string, one char per byte), valid in Lua 5.1 and LuaJIT. */
export function formatLuaString(bytes: string): string {
  let literal = '"';
  for (let index = 0; index < bytes.length; index++) literal += `\\${bytes.charCodeAt(index)}`;
  return `${literal}"`;
}

/** Lua source of `hex(s)`: a string's bytes in hexadecimal, so that any bytes survive one output line. */
export const LUA_HEX_FUNCTION = `local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end`;

/** Decodes what LUA_HEX_FUNCTION printed back to a byte string. */
export function decodeHex(hex: string): string {
  return Buffer.from(hex, "hex").toString("latin1");
}

/** Runs a Lua program (`-e`) with `interpreter`, `input` on its standard input; returns its standard output, throws on a Lua error. */
export function runLua(interpreter: string, program: string, input = ""): string {
  const run = spawnSync(interpreter, ["-e", program], { input, encoding: "latin1", maxBuffer: MAX_OUTPUT_BYTES, timeout: 120_000 });
  if (run.error !== undefined) throw run.error;
  if (run.status !== 0) throw new Error(`${interpreter} exited with ${run.status ?? run.signal}: ${run.stderr}`);
  return run.stdout;
}
