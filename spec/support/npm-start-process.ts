// `npm start` as a user runs it after `npm run build`: dist/demo/main.js on free ports.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";

/** The compiled entry `npm start` runs. */
export const NPM_START_MAIN = join(__dirname, "..", "..", "dist", "demo", "main.js");

/** A running `npm start`: the process and what it printed so far. */
export interface NpmStartProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Kills it with SIGKILL unless it has exited. */
  kill(): Promise<void>;
}

/** Starts `npm start -- <flags> --port 0 --as-port 0 --mcp-port 0` and resolves once it printed "Ctrl-C stops everything.". */
export async function startNpmStart(flags: readonly string[] = []): Promise<NpmStartProcess> {
  const child = spawn(process.execPath, [NPM_START_MAIN, ...flags, "--port", "0", "--as-port", "0", "--mcp-port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  };
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: string) => {
        stdout += chunk;
        if (stdout.includes("Ctrl-C stops everything.")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`npm start ${flags.join(" ")} exited early with ${code}:\n${stdout}${stderr}`)));
    });
  } catch (error) {
    await kill();
    throw error;
  }
  return { child, stdout: () => stdout, stderr: () => stderr, kill };
}
