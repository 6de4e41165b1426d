// Kong's `pluginserver_<name>_start_cmd` management (process.lua), as a test tool: spawn, wait
// for the socket, keep the output, and allow kills and restarts for fault tests.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { createConnection } from "node:net";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { CommandOptions } from "./plugin-dump";

const MAX_KEPT_LINES = 10_000;
const STOP_GRACE_MS = 5_000;

export interface PluginServerProcessOptions extends CommandOptions {
  startCommand: readonly string[];
  socketPath: string;
  /** How long to wait for the socket to accept connections (default 10 s). */
  startTimeoutMs?: number;
  /** How often to try the socket while starting (default 25 ms; a start-up benchmark wants less). */
  socketPollIntervalMs?: number;
}

type ServerChild = ChildProcessByStdio<null, Readable, Readable>;

function keepLines(stream: Readable, lines: string[]): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
    lines.push(line);
    if (lines.length > MAX_KEPT_LINES) lines.shift();
  });
}

/** Whether a unix socket accepts a connection now. */
export function socketAcceptsConnections(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A plugin server process started from a start command. */
export class PluginServerProcess {
  /** Lines the server wrote to stdout and stderr (the last 10,000 of each), across restarts. */
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  private child: ServerChild | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(private readonly options: PluginServerProcessOptions) {}

  /** Starts the server and resolves once its socket accepts connections. */
  static async start(options: PluginServerProcessOptions): Promise<PluginServerProcess> {
    const server = new PluginServerProcess(options);
    await server.spawnAndWait();
    return server;
  }

  /** The running process id, or undefined when the server is not running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Kills the server with SIGKILL (a crash, for fault tests) and waits until it is gone. */
  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exited;
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and starts it again. */
  async restart(): Promise<void> {
    await this.stop();
    await this.spawnAndWait();
  }

  /** Stops the server: SIGTERM, then SIGKILL if it is still running after 5 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill("SIGTERM");
    const escalation = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(escalation);
  }

  private async spawnAndWait(): Promise<void> {
    const [executable, ...args] = this.options.startCommand;
    if (executable === undefined) throw new Error("the start command is empty");
    const child = spawn(executable, args, { env: this.options.env, cwd: this.options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    keepLines(child.stdout, this.stdoutLines);
    keepLines(child.stderr, this.stderrLines);
    let exitDescription: string | undefined;
    this.exited = new Promise((resolve) => {
      child.once("error", (error) => {
        exitDescription = `could not start: ${error.message}`;
        if (this.child === child) this.child = undefined;
        resolve();
      });
      child.once("exit", (code, signal) => {
        exitDescription = `exited with ${signal ?? String(code)}`;
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 10_000);
    while (!(await socketAcceptsConnections(this.options.socketPath))) {
      if (exitDescription !== undefined || Date.now() > deadline) {
        const reason = exitDescription ?? "did not open its socket in time";
        if (exitDescription === undefined) await this.stop();
        const output = [...this.stderrLines, ...this.stdoutLines].slice(-5).join("\n");
        throw new Error(`plugin server ${JSON.stringify(this.options.startCommand)} ${reason} (${this.options.socketPath}); last output:\n${output}`);
      }
      await delay(this.options.socketPollIntervalMs ?? 25);
    }
  }
}
