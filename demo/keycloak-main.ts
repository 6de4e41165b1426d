import { parseArgs } from "node:util";
import { installLocalKeycloak, KEYCLOAK_VERSION, seedRealmFile, startLocalKeycloak } from "../kong/keycloak/local-keycloak";
import { listSeedPeople } from "../kong/keycloak/seed-realm";
import { parsePort } from "./stack-options";
import { stopOnSignal } from "./stop-on-signal";

const USAGE = `Usage: npm run keycloak -- [options]

Runs Keycloak ${KEYCLOAK_VERSION} (start-dev, on 127.0.0.1) with the realm kong/keycloak/realm-mcp.json
imported; its data is thrown away when it stops. The first run fetches the distribution with Maven
(and a Java runtime from PyPI when none of version 21 or newer is installed) into .cache/keycloak.

  --port <port>      HTTP port (0 picks a free one)           MCP_OAUTH2_AS_PORT    8180
  --install-only     install what is missing, print it, and exit
  --help             show this text

The admin password is KEYCLOAK_ADMIN_PASSWORD, or a random one printed at start.
`;

/** `npm run keycloak`: this project's Keycloak with the seed realm, for development and for .ci/run's install step. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { port: { type: "string" }, "install-only": { type: "boolean" }, help: { type: "boolean" } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  const log = (line: string): void => console.log(line);
  const progress = (line: string): void => console.log(`keycloak: ${line}`);
  if (values["install-only"] === true) {
    const { java, distribution } = await installLocalKeycloak(progress);
    log(`keycloak: Keycloak ${KEYCLOAK_VERSION} ready in ${distribution} (Java ${java.majorVersion} at ${java.home})`);
    return;
  }
  const portText = values.port ?? process.env.MCP_OAUTH2_AS_PORT;
  const port = portText === undefined || portText === "" ? 8180 : parsePort(portText, values.port === undefined ? "MCP_OAUTH2_AS_PORT" : "--port");
  const starting = startLocalKeycloak({
    port,
    realmFiles: [seedRealmFile()],
    ...(process.env.KEYCLOAK_ADMIN_PASSWORD ? { adminPassword: process.env.KEYCLOAK_ADMIN_PASSWORD } : {}),
    log: progress,
  });
  stopOnSignal(async () => (await starting).stop(), log);
  const keycloak = await starting;
  log(`Keycloak ${keycloak.version} (start-dev; started in ${(keycloak.startupMs / 1000).toFixed(1)} s; data discarded on exit)`);
  log(`  realm mcp      ${keycloak.issuer("mcp")}  (imported from kong/keycloak/realm-mcp.json)`);
  log(`  admin console  ${keycloak.baseUrl}/admin  (${keycloak.admin.username} / ${keycloak.admin.password})`);
  for (const person of listSeedPeople()) {
    log(`  user           ${person.username} / ${person.credentials?.[0]?.value ?? "?"}  (${(person.groups ?? []).join(", ")})`);
  }
  log("Ctrl-C stops Keycloak.");
}

main().catch((error: unknown) => {
  console.error(`npm run keycloak failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
