// Installs what the differential upstreams need beyond node_modules, into a gitignored cache:
// the Python SDK in a virtual environment it creates, and the Go SDK servers built with `go build`
// (the current release, v1.3.0 and v1.4.0). Idempotent: a second run only re-checks. `npm run upstreams` runs
// it; the differential suite's before hook runs it too. A missing toolchain (no python3, no go) is
// reported, not fatal: the upstreams that need it are skipped with that reason.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const UPSTREAMS_DIRECTORY = __dirname;
/** Where installs and builds go (gitignored). */
export const CACHE_DIRECTORY = join(UPSTREAMS_DIRECTORY, "..", ".cache");
const PYTHON_DIRECTORY = join(UPSTREAMS_DIRECTORY, "python");
const GO_DIRECTORY = join(UPSTREAMS_DIRECTORY, "go");
const VIRTUAL_ENVIRONMENT = join(CACHE_DIRECTORY, "python-venv");
/** A first install downloads packages and modules: bounded, but generously. */
const STEP_TIMEOUT_MS = 8 * 60_000;

/**
 * The Go SDK builds: the module file each is built from, and the binary it makes. v1.3.0 decodes
 * member names case-insensitively (GHSA-wvj2-96wp-fq3f, fixed in v1.3.1); v1.4.0 still reads
 * `name\u0000` as `name` (GHSA-q382-vc8q-7jhj).
 */
export const GO_BUILDS = [
  { name: "go-current", modfile: "go.mod" },
  { name: "go-v1.3.0", modfile: "go-v1.3.0.mod" },
  { name: "go-v1.4.0", modfile: "go-v1.4.0.mod" },
] as const;

/** What a toolchain's install gave: ready, or why not. */
export type ToolchainStatus = { ready: true } | { ready: false; reason: string };

export interface InstalledUpstreams {
  readonly python: ToolchainStatus & { readonly interpreter: string };
  readonly go: ToolchainStatus & { readonly binaries: Readonly<Record<(typeof GO_BUILDS)[number]["name"], string>> };
}

interface CommandResult {
  readonly code: number | null;
  readonly output: string;
  /** The command could not start (ENOENT: not installed). */
  readonly missing: boolean;
}

function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), STEP_TIMEOUT_MS);
    child.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: null, output: error.message, missing: error.code === "ENOENT" });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output: Buffer.concat(chunks).toString("utf8"), missing: false });
    });
  });
}

async function runStep(description: string, command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`${description} failed (${command} ${args.join(" ")}):\n${result.output.slice(-4000)}`);
}

function fingerprint(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** python3 -m venv, then pip install -r requirements.txt unless the same requirements are already in. */
async function installPython(log: (line: string) => void): Promise<InstalledUpstreams["python"]> {
  const interpreter = join(VIRTUAL_ENVIRONMENT, "bin", "python");
  const probe = await run("python3", ["--version"]);
  if (probe.missing || probe.code !== 0) return { ready: false, reason: "python3 is not installed", interpreter };
  const requirements = join(PYTHON_DIRECTORY, "requirements.txt");
  const stamp = join(VIRTUAL_ENVIRONMENT, ".installed-requirements");
  if (existsSync(interpreter) && existsSync(stamp) && readFileSync(stamp, "utf8") === fingerprint(requirements)) return { ready: true, interpreter };
  log(`upstreams: creating ${VIRTUAL_ENVIRONMENT} and installing ${requirements}`);
  await runStep("creating the Python virtual environment", "python3", ["-m", "venv", "--clear", VIRTUAL_ENVIRONMENT]);
  await runStep("installing the Python SDK", interpreter, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements]);
  writeFileSync(stamp, fingerprint(requirements));
  return { ready: true, interpreter };
}

/** go build of main.go once per module file (Go's build cache makes a rebuild a second). */
async function buildGo(log: (line: string) => void): Promise<InstalledUpstreams["go"]> {
  const binaries = Object.fromEntries(GO_BUILDS.map(({ name }) => [name, join(CACHE_DIRECTORY, "go", name)])) as InstalledUpstreams["go"]["binaries"];
  const probe = await run("go", ["version"]);
  if (probe.missing || probe.code !== 0) return { ready: false, reason: "go is not installed", binaries };
  // -mod=mod: the module files are the source of truth (go.sum is committed beside each).
  const env = { ...process.env, GOFLAGS: "-mod=mod -buildvcs=false" };
  for (const { name, modfile } of GO_BUILDS) {
    if (!existsSync(binaries[name])) log(`upstreams: go build -modfile=${modfile} (${name})`);
    await runStep(`building ${name}`, "go", ["build", `-modfile=${modfile}`, "-o", binaries[name], "."], { cwd: GO_DIRECTORY, env });
  }
  return { ready: true, binaries };
}

let installing: Promise<InstalledUpstreams> | undefined;

/**
 * Installs and builds every upstream whose toolchain is present, once per process (the suites
 * share it). Rejects when an install that should work fails.
 */
export function installUpstreams(log: (line: string) => void = () => undefined): Promise<InstalledUpstreams> {
  installing ??= (async () => {
    mkdirSync(CACHE_DIRECTORY, { recursive: true });
    const python = await installPython(log);
    const go = await buildGo(log);
    return { python, go };
  })();
  return installing;
}

if (require.main === module) {
  installUpstreams((line) => console.log(line)).then(
    ({ python, go }) => {
      for (const [toolchain, status] of Object.entries({ python, go })) console.log(`upstreams: ${toolchain} ${status.ready ? "ready" : `skipped: ${status.reason}`}`);
    },
    (error: unknown) => {
      console.error((error as Error).message);
      process.exitCode = 1;
    },
  );
}
