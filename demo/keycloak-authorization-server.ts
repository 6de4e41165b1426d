import { connectKeycloakAdmin } from "../kong/keycloak/admin-connection";
import type { KeycloakServer } from "../kong/keycloak/keycloak-server";
import { seedRealmFile, startLocalKeycloak } from "../kong/keycloak/local-keycloak";
import { applyRealmSetup } from "../kong/keycloak/realm-setup";
import { findSeedClient, listSeedPeople } from "../kong/keycloak/seed-realm";

const REALM = "mcp";

/** A person of the seed realm as `npm start` prints it. */
export interface SeedUser {
  readonly username: string;
  readonly password: string;
  readonly groups: readonly string[];
}

/** The real Keycloak as the local stack's authorization server, realm `mcp` from the seed file. */
export interface KeycloakAuthorizationServer {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly keycloak: KeycloakServer;
  readonly users: readonly SeedUser[];
  readonly machineClient: { readonly clientId: string; readonly clientSecret: string };
  close(): Promise<void>;
}

export interface KeycloakAuthorizationServerOptions {
  readonly port: number;
  readonly host: string;
  /** The stack's MCP endpoint: the audience the realm's mappers must write. */
  readonly mcpResourceUrl: string;
  /** Progress while Java or the distribution is installed, and the setup's steps. */
  readonly log: (line: string) => void;
}

/**
 * Starts Keycloak with kong/keycloak/realm-mcp.json imported as it is, then points the realm's
 * Audience mappers at this stack's MCP endpoint with mcp-oauth2-keycloak-setup's steps (the file
 * names docker-compose's URL): the same users, clients and secrets as the file.
 */
export async function startKeycloakAuthorizationServer(options: KeycloakAuthorizationServerOptions): Promise<KeycloakAuthorizationServer> {
  const keycloak = await startLocalKeycloak({ host: options.host, port: options.port, realmFiles: [seedRealmFile()], log: options.log });
  const machine = findSeedClient("mcp-machine");
  const machineClient = { clientId: machine.clientId as string, clientSecret: machine.secret as string };
  try {
    const admin = await connectKeycloakAdmin({ baseUrl: keycloak.baseUrl, username: keycloak.admin.username, password: keycloak.admin.password }, REALM);
    await applyRealmSetup(admin, { realm: REALM, audience: options.mcpResourceUrl, demoUsers: true, machineClientSecret: machineClient.clientSecret }, (line) =>
      options.log(`setup: ${line}`),
    );
  } catch (error) {
    await keycloak.stop();
    throw error;
  }
  const issuer = keycloak.issuer(REALM);
  return {
    issuer,
    jwksUri: `${issuer}/protocol/openid-connect/certs`,
    keycloak,
    users: listSeedPeople().map((person) => ({
      username: person.username as string,
      password: person.credentials?.[0]?.value as string,
      groups: (person.groups ?? []).map((path) => path.replace(/^\//, "")),
    })),
    machineClient,
    close: () => keycloak.stop(),
  };
}
