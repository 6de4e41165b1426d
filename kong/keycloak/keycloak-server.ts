// Runs an unpacked Keycloak distribution in development mode on loopback, with realm files
// imported at start, a bounded start-up wait, and no JVM left behind.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

const MAX_KEPT_LINES = 20_000;
const DEFAULT_START_TIMEOUT_MS = 240_000;
const STOP_GRACE_MS = 20_000;
const READY_POLL_MS = 500;

/**
 * Runs the command in the background and kills its whole process group when the process that
 * started it (argument 1) is gone: a test run or `npm start` killed with SIGKILL leaves no JVM.
 * SIGTERM is passed on to the command, which stops Keycloak gracefully.
 */
const WATCHDOG_SCRIPT = `parent=$1; shift
"$@" </dev/null & child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1 & wait $!; done
if kill -0 "$child" 2>/dev/null; then kill -KILL 0; fi
wait "$child"`;

/** The distribution's folders a run shares read-only; data/ is the run's own. */
const SHARED_FOLDERS = ["lib", "providers", "conf", "themes"] as const;

/** How to run Keycloak. */
export interface KeycloakServerOptions {
  /** An unpacked keycloak-quarkus-dist folder (the one holding bin/kc.sh). */
  readonly distribution: string;
  /** JAVA_HOME for Keycloak: Java 21 or newer. */
  readonly javaHome: string;
  readonly host?: string;
  /** HTTP port; 0 (the default) lets the system pick a free one. */
  readonly port?: number;
  /** Realm export files imported at start (`--import-realm`), unmodified. */
  readonly realmFiles?: readonly string[];
  /** The temporary admin of the master realm (default `admin`, with a random password). */
  readonly adminUsername?: string;
  readonly adminPassword?: string;
  /** How long to wait for Keycloak to serve requests (default 240 s). */
  readonly startTimeoutMs?: number;
  /** Receives every line Keycloak prints. */
  readonly onOutput?: (line: string) => void;
}

/** A running Keycloak. */
export interface KeycloakServer {
  /** `http://<host>:<port>`: realms are under `/realms/<name>`, the admin console under `/admin`. */
  readonly baseUrl: string;
  /** The master realm's temporary admin, for the Admin API (client `admin-cli`). */
  readonly admin: { readonly username: string; readonly password: string };
  /** The Keycloak version the server reports. */
  readonly version: string;
  /** Milliseconds from spawn to the first answered request. */
  readonly startupMs: number;
  /** The process group's leader (the watchdog shell); Keycloak's JVM runs in its group. */
  readonly pid: number;
  /** What Keycloak printed so far (the last 20,000 lines). */
  readonly output: readonly string[];
  /** `<baseUrl>/realms/<realm>`: the realm's issuer for requests made through baseUrl. */
  issuer(realm: string): string;
  /** Stops Keycloak (SIGTERM, SIGKILL after 20 s) and removes the run's data. Safe to call twice. */
  stop(): Promise<void>;
}

type KeycloakChild = ChildProcessByStdio<null, Readable, Readable>;

/**
 * A fresh Keycloak home for one run: the distribution's lib, providers, conf and themes linked (so
 * the build Keycloak made of itself is reused and nothing is copied), an empty data folder (H2
 * database, transaction logs), and the realm files in data/import.
 */
function prepareHome(distribution: string, realmFiles: readonly string[]): string {
  const home = mkdtempSync(join(tmpdir(), "mcp-oauth2-keycloak-"));
  for (const folder of SHARED_FOLDERS) symlinkSync(join(distribution, folder), join(home, folder));
  mkdirSync(join(home, "data", "import"), { recursive: true });
  for (const file of realmFiles) copyFileSync(file, join(home, "data", "import", basename(file)));
  return home;
}

function keepLines(stream: Readable, lines: string[], onOutput: ((line: string) => void) | undefined): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
    lines.push(line);
    if (lines.length > MAX_KEPT_LINES) lines.shift();
    onOutput?.(line);
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts `bin/kc.sh start-dev` on 127.0.0.1 in a temporary home and resolves once the master realm
 * answers. The JVM runs in its own process group under a watchdog, and is killed when this process
 * exits, even abruptly. Rejects, with Keycloak's last lines, when it exits or does not answer in time.
 */
export async function startKeycloakServer(options: KeycloakServerOptions): Promise<KeycloakServer> {
  const host = options.host ?? "127.0.0.1";
  const admin = { username: options.adminUsername ?? "admin", password: options.adminPassword ?? randomBytes(18).toString("base64url") };
  const home = prepareHome(options.distribution, options.realmFiles ?? []);
  const kcScript = join(options.distribution, "bin", "kc.sh");
  const startedAt = Date.now();
  // -Dkc.home.dir comes after kc.sh's own: the last definition of a system property wins.
  const kcArguments = [`-Dkc.home.dir=${home}`, "start-dev", "--http-host", host, "--http-port", String(options.port ?? 0), "--import-realm"];
  const child: KeycloakChild = spawn("/bin/sh", ["-c", WATCHDOG_SCRIPT, "keycloak-watchdog", String(process.pid), "/bin/sh", kcScript, ...kcArguments], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      JAVA_HOME: options.javaHome,
      KC_BOOTSTRAP_ADMIN_USERNAME: admin.username,
      KC_BOOTSTRAP_ADMIN_PASSWORD: admin.password,
      KC_LOG_CONSOLE_COLOR: "false",
    },
  });
  const pid = child.pid as number;
  const output: string[] = [];
  keepLines(child.stdout, output, options.onOutput);
  keepLines(child.stderr, output, options.onOutput);
  let exitDescription: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("error", (error) => {
      exitDescription = `could not start: ${error.message}`;
      resolve();
    });
    child.once("exit", (code, signal) => {
      exitDescription = `exited with ${signal ?? String(code)}`;
      resolve();
    });
  });
  const killOnExit = (): void => signalGroup(pid, "SIGKILL");
  process.once("exit", killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exitDescription === undefined) {
        signalGroup(pid, "SIGTERM");
        const escalation = setTimeout(() => signalGroup(pid, "SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(escalation);
      }
      // kc.sh and the JVM leave with the watchdog; anything of the group still there goes now.
      signalGroup(pid, "SIGKILL");
      process.removeListener("exit", killOnExit);
      rmSync(home, { recursive: true, force: true });
    })();
    return stopping;
  };

  const deadline = startedAt + (options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  let baseUrl: string | undefined;
  for (;;) {
    baseUrl ??= findListeningUrl(output);
    if (baseUrl !== undefined && (await answers(`${baseUrl}/realms/master`))) break;
    if (exitDescription !== undefined || Date.now() > deadline) {
      const reason = exitDescription ?? `did not answer within ${Math.round((deadline - startedAt) / 1000)} s`;
      await stop();
      throw new Error(`Keycloak (${kcScript}) ${reason}; last output:\n${output.slice(-15).join("\n")}`);
    }
    await delay(READY_POLL_MS);
  }
  const startupMs = Date.now() - startedAt;
  const origin = baseUrl;
  return {
    baseUrl: origin,
    admin,
    version: findVersion(output),
    startupMs,
    pid,
    output,
    issuer: (realm) => `${origin}/realms/${encodeURIComponent(realm)}`,
    stop,
  };
}

/** Quarkus' start line names the address it listens on, with the port it picked for port 0. */
function findListeningUrl(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const url = /Listening on: (http:\/\/\S+?)\/?$/.exec(line)?.[1];
    if (url !== undefined) return url;
  }
  return undefined;
}

function findVersion(lines: readonly string[]): string {
  for (const line of lines) {
    const version = /\bKeycloak (\d+\.\d+\.\d+\S*) on JVM/.exec(line)?.[1];
    if (version !== undefined) return version;
  }
  return "unknown";
}

/** One line of Keycloak's log at WARN or ERROR level. */
const PROBLEM_LINE = /^\S+ \S+ (WARN|ERROR|FATAL) /;

/**
 * The WARN and ERROR lines Keycloak printed while importing realm files at start: from its
 * "Importing from directory" line to "Import finished". Everything when the import never finished.
 */
export function findImportProblems(lines: readonly string[]): string[] {
  const start = lines.findIndex((line) => line.includes("Importing from directory"));
  if (start === -1) return ["Keycloak did not import any realm file"];
  const end = lines.findIndex((line, index) => index > start && line.includes("Import finished successfully"));
  const window = lines.slice(start, end === -1 ? undefined : end + 1);
  const problems = window.filter((line) => PROBLEM_LINE.test(line));
  return end === -1 ? [...problems, "Keycloak did not report \"Import finished successfully\""] : problems;
}
