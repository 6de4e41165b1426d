import { KeycloakUnavailable } from "../kong/keycloak/local-keycloak";
import { startKeycloakStack, startLocalStack } from "./local-stack";
import { resolveRealmRoles } from "./realm-roles";
import { parseStackOptions, STACK_USAGE } from "./stack-options";
import { stopOnSignal } from "./stop-on-signal";

/**
 * `npm start`: the local stack on 127.0.0.1, ready for VS Code, the MCP Inspector or mcp-remote.
 * Prints where everything runs, whom to sign in as, and exactly one `MCP endpoint: <url>` line.
 */
async function main(): Promise<void> {
  const options = parseStackOptions(process.argv.slice(2), process.env);
  if (options.help) {
    process.stdout.write(STACK_USAGE);
    return;
  }
  const log = (line: string): void => console.log(line);
  const stackOptions = {
    host: options.host,
    gatewayPort: options.gatewayPort,
    authorizationServerPort: options.authorizationServerPort,
    mcpServerPort: options.mcpServerPort,
    logger: options.verbose ? (line: string) => log(`[authorization server] ${line}`) : undefined,
  };
  // Keycloak's installation and setup steps go to stderr: stdout keeps the same lines either way.
  const starting = options.keycloak ? startKeycloakStack({ ...stackOptions, log: (line) => console.error(`keycloak: ${line}`) }) : startLocalStack(stackOptions);
  // Listening from the start: a Ctrl-C while the stack comes up still closes what started.
  stopOnSignal(async () => (await starting).close(), log);
  const stack = await starting;
  const { authorizationServer, mcpServer } = stack;
  const machine = authorizationServer.machineClient;
  const description =
    "keycloak" in authorizationServer
      ? `Keycloak ${authorizationServer.keycloak.version}, realm "mcp" of kong/keycloak/realm-mcp.json; admin console ${authorizationServer.keycloak.baseUrl}/admin, ${authorizationServer.keycloak.admin.username} / ${authorizationServer.keycloak.admin.password}`
      : 'oidc-provider shaped like the Keycloak realm "mcp"';
  log("mcp-oauth2 local stack");
  log(`  authorization server  ${authorizationServer.issuer}  (${description})`);
  log(`  demo MCP server       ${mcpServer.url}  (upstream only: it checks no token)`);
  log(`  gateway               ${stack.gatewayUrl}  (Kong-protocol local gateway, mcp-oauth2 and mcp-oauth2-list-filter via our plugin servers)`);
  for (const user of authorizationServer.users) {
    log(`  user                  ${user.username} / ${user.password}  (${user.groups.join(", ")}: ${resolveRealmRoles(user.groups).join(" ")})`);
  }
  log(`  machine client        ${machine.clientId} / ${machine.clientSecret}  (client_credentials: mcp:tools)`);
  log(`MCP endpoint: ${stack.mcpEndpoint}`);
  log("Ctrl-C stops everything.");
}

main().catch((error: unknown) => {
  const inUse = (error as NodeJS.ErrnoException).code === "EADDRINUSE" ? " (choose other ports: npm start -- --help)" : "";
  const noKeycloak = error instanceof KeycloakUnavailable ? " (plain npm start runs the built-in authorization server instead)" : "";
  console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}${inUse}${noKeycloak}`);
  process.exit(1);
});
