/**
 * The slice of a Keycloak realm the demo authorization server models: users, the realm roles their
 * groups grant, and the role scope mappings of the MCP client scopes. `mcp-client` runs with
 * "Full scope allowed" off, so a token only carries the roles that its granted client scopes map.
 */

/** A realm user: credentials plus group membership (Keycloak grants realm roles through groups). */
export interface RealmUser {
  /** Stable subject identifier, the token's `sub` (Keycloak: the user id). */
  readonly id: string;
  readonly username: string;
  readonly password: string;
  readonly groups: readonly string[];
}

/** The client scopes of the MCP resource, in the order the authorization server advertises them. */
export const MCP_SCOPES = ["mcp:tools", "mcp:resources"] as const;

/** Realm roles granted by group membership (Keycloak: a group's role mappings). */
export const GROUP_REALM_ROLES: Readonly<Record<string, readonly string[]>> = {
  "mcp-member": ["mcp:tools"],
  "mcp-admin": ["mcp:tools", "mcp:resources"],
};

/** Realm roles each client scope maps (Keycloak: the client scope's "Scope" tab). */
export const CLIENT_SCOPE_ROLE_MAPPINGS: Readonly<Record<string, readonly string[]>> = {
  "mcp:tools": ["mcp:tools"],
  "mcp:resources": ["mcp:resources"],
};

/** The member and the admin that `npm start` prints: the users of the Keycloak seed realm. */
export const DEFAULT_USERS: readonly RealmUser[] = [
  { id: "5b0e6a9c-1f4d-4c47-9a51-3c2f8d7e6a10", username: "alice", password: "alice-password", groups: ["mcp-member"] },
  { id: "9d3c2b1a-7e6f-4a58-8b49-0c1d2e3f4a5b", username: "bob", password: "bob-password", groups: ["mcp-admin"] },
];

/**
 * Lists the realm roles that a set of groups grants, without duplicates.
 */
export function resolveRealmRoles(groups: readonly string[]): string[] {
  return [...new Set(groups.flatMap((group) => GROUP_REALM_ROLES[group] ?? []))];
}

/**
 * Keeps the requested scopes that a subject holding `roles` may receive. As in Keycloak, a client
 * scope that maps roles applies only when the subject holds at least one of them; scopes without
 * role mappings (such as `openid`) always apply.
 */
export function selectPermittedScopes(roles: readonly string[], requestedScopes: readonly string[]): string[] {
  return requestedScopes.filter((scope) => {
    const mappedRoles = CLIENT_SCOPE_ROLE_MAPPINGS[scope];
    return mappedRoles === undefined || mappedRoles.some((role) => roles.includes(role));
  });
}

/**
 * Keeps the subject's roles that the granted scopes map: the roles a token carries in
 * `realm_access.roles` and in the multivalued `mcp_scopes` claim when full scope is not allowed.
 */
export function selectRolesInScope(roles: readonly string[], grantedScopes: readonly string[]): string[] {
  const mappedRoles = new Set(grantedScopes.flatMap((scope) => CLIENT_SCOPE_ROLE_MAPPINGS[scope] ?? []));
  return roles.filter((role) => mappedRoles.has(role));
}
