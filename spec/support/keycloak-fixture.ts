// One real Keycloak per test run, with the seed realm imported, shared by every suite that asks for
// it, and one gateway (driver + our plugin server + the demo MCP server) in front of it. Both start
// on first use and stop after the last suite (a root hook); the JVM also dies with this process.
import { builtPluginsDirectory, startPluginServerDriver, type KongDriver, type RouteDefinition } from "../../kong/driver";
import { connectKeycloakAdmin } from "../../kong/keycloak/admin-connection";
import type { KeycloakServer } from "../../kong/keycloak/keycloak-server";
import { KEYCLOAK_VERSION, KeycloakUnavailable, seedRealmFile, startLocalKeycloak } from "../../kong/keycloak/local-keycloak";
import { MCP_PATH, startMcpServer, type DemoMcpServer } from "../../demo/mcp-server";
import { findBuiltPluginsDirectory } from "./plugin-server-fixture";
import { skipBecause } from "./skip-suite";

/** Installing (a Maven download, Keycloak's first build) and starting Keycloak on 2 busy cores. */
const KEYCLOAK_TIMEOUT_MS = 20 * 60_000;

let keycloak: Promise<KeycloakServer | KeycloakUnavailable> | undefined;
let skipAnnounced = false;

/**
 * The run's Keycloak ({@link KEYCLOAK_VERSION}, start-dev on 127.0.0.1, kong/keycloak/realm-mcp.json
 * imported unmodified), started on the first call. Where no Java 21+ or no Maven Central can be had,
 * skips the calling suite, saying why once per run. Other helpers (Admin API, tokens) take it from here.
 */
export async function useSeededKeycloak(context: Mocha.Context): Promise<KeycloakServer> {
  context.timeout(KEYCLOAK_TIMEOUT_MS);
  keycloak ??= startLocalKeycloak({ realmFiles: [seedRealmFile()], log: (line) => console.log(`      keycloak: ${line}`) }).then(
    (server) => {
      console.log(`      keycloak: Keycloak ${server.version} on ${server.baseUrl}, started in ${(server.startupMs / 1000).toFixed(1)} s`);
      return server;
    },
    (error: unknown) => {
      if (error instanceof KeycloakUnavailable) return error;
      throw error;
    },
  );
  const server = await keycloak;
  if (server instanceof KeycloakUnavailable) {
    if (skipAnnounced) context.skip();
    skipAnnounced = true;
    skipBecause(context, `the real-Keycloak suites need Keycloak ${KEYCLOAK_VERSION}: ${server.message}`);
  }
  return server;
}

/** An Admin API client of the run's Keycloak, working on `realm`, logged in as the master realm's admin. */
export function connectAdmin(server: KeycloakServer, realm: string) {
  return connectKeycloakAdmin({ baseUrl: server.baseUrl, username: server.admin.username, password: server.admin.password }, realm);
}

/** The gateway in front of the run's Keycloak: `/mcp` proxied to the demo MCP server through mcp-oauth2. */
export interface KeycloakGateway {
  readonly driver: KongDriver;
  /** `http://127.0.0.1:<port>/mcp`: what MCP clients connect to, the plugin's `resource`. */
  readonly mcpEndpoint: string;
  readonly mcpServer: DemoMcpServer;
  /** Routes `/mcp` and the metadata path through mcp-oauth2 with `config` (Kong fills the defaults). */
  configure(config: Record<string, unknown>): void;
}

let gateway: Promise<KeycloakGateway & { close(): Promise<void> }> | undefined;

async function startGateway(): Promise<KeycloakGateway & { close(): Promise<void> }> {
  const mcpServer = await startMcpServer({ port: 0, host: "127.0.0.1" });
  const { driver, close } = await startPluginServerDriver("ours", builtPluginsDirectory(), { nativeGuard: true });
  const listening = await driver.listen({ port: 0, host: "127.0.0.1" });
  const upstream = new URL(mcpServer.url).origin;
  const route = (config: Record<string, unknown>): RouteDefinition => ({
    id: "mcp",
    paths: [MCP_PATH, "/.well-known/oauth-protected-resource"],
    upstream,
    stripPath: false,
    plugins: [{ id: "mcp-oauth2", config }],
  });
  return {
    driver,
    mcpEndpoint: `${listening.url}${MCP_PATH}`,
    mcpServer,
    configure: (config) => driver.configureRoutes([route(config)]),
    close: async () => {
      await close();
      await mcpServer.close();
    },
  };
}

/** The run's gateway, started on the first call (after the checkout's build is found fresh). */
export async function useKeycloakGateway(): Promise<KeycloakGateway> {
  gateway ??= (async () => {
    findBuiltPluginsDirectory();
    return startGateway();
  })();
  return gateway;
}

after(async function () {
  this.timeout(60_000);
  const [server, runningGateway] = await Promise.all([keycloak?.catch(() => undefined), gateway?.catch(() => undefined)]);
  await runningGateway?.close();
  if (server !== undefined && !(server instanceof KeycloakUnavailable)) await server.stop();
});
