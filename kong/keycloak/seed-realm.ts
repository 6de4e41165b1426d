// kong/keycloak/realm-mcp.json, typed: the seed realm that `--import-realm` loads and whose MCP parts
// mcp-oauth2-keycloak-setup applies to an existing realm.
import type ClientRepresentation from "@keycloak/keycloak-admin-client/lib/defs/clientRepresentation.js";
import type ClientScopeRepresentation from "@keycloak/keycloak-admin-client/lib/defs/clientScopeRepresentation.js";
import type ComponentExportRepresentation from "@keycloak/keycloak-admin-client/lib/defs/componentExportRepresentation.js";
import type RealmRepresentation from "@keycloak/keycloak-admin-client/lib/defs/realmRepresentation.js";
import type UserRepresentation from "@keycloak/keycloak-admin-client/lib/defs/userRepresentation.js";
import realmExport from "./realm-mcp.json";

/**
 * Keycloak writes a realm's components as multivalued maps (Java MultivaluedHashMap): provider
 * type -> list of components, and each config key -> list of strings. The admin client's
 * RealmRepresentation types them as single values, which no real export matches; everything
 * else is checked against the admin client's types as they are.
 */
export type ComponentExport = Omit<ComponentExportRepresentation, "config" | "subComponents"> & {
  config?: Partial<Record<string, string[]>>;
  subComponents?: Record<string, ComponentExport[]>;
};

export type RealmExport = Omit<RealmRepresentation, "components" | "clientScopes"> & {
  clientScopes?: ClientScopeRepresentation[];
  components?: Record<string, ComponentExport[]>;
};

/** The realm file, type-checked against Keycloak's realm representation. */
export const SEED_REALM: RealmExport = realmExport satisfies RealmExport;

/** Where Keycloak keeps client registration policies among a realm's components. */
export const REGISTRATION_POLICY_TYPE = "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy";

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`kong/keycloak/realm-mcp.json has no ${what}`);
  return value;
}

/** A client of the seed realm by client id. */
export function findSeedClient(clientId: string): ClientRepresentation {
  return required(
    SEED_REALM.clients?.find((client) => client.clientId === clientId),
    `client ${clientId}`,
  );
}

/** A client scope of the seed realm by name. */
export function findSeedClientScope(name: string): ClientScopeRepresentation {
  return required(
    SEED_REALM.clientScopes?.find((scope) => scope.name === name),
    `client scope ${name}`,
  );
}

/** The seed realm's client registration policies of one kind (anonymous or authenticated). */
export function findSeedRegistrationPolicies(subType: "anonymous" | "authenticated"): ComponentExport[] {
  return (SEED_REALM.components?.[REGISTRATION_POLICY_TYPE] ?? []).filter((policy) => policy.subType === subType);
}

/** The seed realm's people (alice, bob): its users that are no client's service account. */
export function listSeedPeople(): UserRepresentation[] {
  return (SEED_REALM.users ?? []).filter((user) => user.serviceAccountClientId === undefined);
}
