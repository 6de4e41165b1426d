// Starts one differential upstream as a child process on 127.0.0.1 and reads what it ran.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { readRanRecords, type RanRecord } from "./ran-log";

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;
const MAX_KEPT_STDERR_LINES = 200;

/** A running upstream. */
export interface RunningUpstream {
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  /** The SDK and version the upstream reported, e.g. "mcp 2.3.0". */
  readonly sdk: string;
  /** The ran records written since the last call. */
  takeRecords(): RanRecord[];
  readonly stderrLines: readonly string[];
  close(): Promise<void>;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    child.once("exit", () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Runs the command `argvFor` gives for a fresh ran log in `workDirectory`, and waits for its "listening <port> <SDK> <version>" line. */
export async function startUpstream(name: string, argvFor: (ranLog: string) => readonly string[], workDirectory: string): Promise<RunningUpstream> {
  const ranLog = join(workDirectory, `${name}.ran.jsonl`);
  writeFileSync(ranLog, "");
  const [command, ...args] = argvFor(ranLog);
  const child = spawn(command as string, args, { stdio: ["ignore", "pipe", "pipe"] });
  const stderrLines: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => {
    stderrLines.push(line);
    if (stderrLines.length > MAX_KEPT_STDERR_LINES) stderrLines.shift();
  });
  const listening = await new Promise<{ port: number; sdk: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const match = /^listening (\d+) (.+)$/.exec(line);
      if (match === null) return;
      clearTimeout(timer);
      resolve({ port: Number(match[1]), sdk: match[2] as string });
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${stderrLines.slice(-20).join("\n")}`));
    });
  }).catch(async (error: unknown) => {
    await stop(child);
    throw error;
  });
  // Keep draining stdout so a chatty server never blocks on a full pipe.
  child.stdout!.resume();
  let offset = 0;
  return {
    origin: `http://127.0.0.1:${listening.port}`,
    sdk: listening.sdk,
    takeRecords: () => {
      const { records, nextOffset } = readRanRecords(ranLog, offset);
      offset = nextOffset;
      return records;
    },
    stderrLines,
    close: () => stop(child),
  };
}
