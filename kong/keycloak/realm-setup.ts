// The README's Keycloak steps as a plan over an existing realm: the MCP parts of the seed realm
// (kong/keycloak/realm-mcp.json) that the realm lacks or holds differently, each a step that can
// be printed (--dry-run) or applied. Nothing is deleted; applying a realm's plan twice plans nothing.
import type KeycloakAdminClient from "@keycloak/keycloak-admin-client";
import type ClientRepresentation from "@keycloak/keycloak-admin-client/lib/defs/clientRepresentation.js";
import type ClientScopeRepresentation from "@keycloak/keycloak-admin-client/lib/defs/clientScopeRepresentation.js";
import type ProtocolMapperRepresentation from "@keycloak/keycloak-admin-client/lib/defs/protocolMapperRepresentation.js";
import type RoleRepresentation from "@keycloak/keycloak-admin-client/lib/defs/roleRepresentation.js";
import {
  findSeedClient,
  findSeedClientScope,
  findSeedRegistrationPolicies,
  listSeedPeople,
  REGISTRATION_POLICY_TYPE,
  SEED_REALM,
  type ComponentExport,
} from "./seed-realm";

/** What to set up in which realm. */
export interface RealmSetupOptions {
  readonly realm: string;
  /** The public MCP URL: the plugin's `audience`, which the Audience mappers add to access tokens. */
  readonly audience: string;
  /** Also create the seed's users alice (mcp-member) and bob (mcp-admin), with their seed passwords. */
  readonly demoUsers: boolean;
  /** mcp-machine's client secret; without it Keycloak generates one when it creates the client, and an existing one is kept. */
  readonly machineClientSecret?: string;
}

/** One change to the realm. */
export interface SetupStep {
  readonly description: string;
  apply(): Promise<void>;
}

/** The clients the README's steps create. */
const MCP_CLIENT_IDS = ["mcp-client", "mcp-machine"] as const;
/** The client fields the steps decide; the rest of an existing client is left as it is. */
const MANAGED_CLIENT_FIELDS = [
  "enabled",
  "protocol",
  "publicClient",
  "clientAuthenticatorType",
  "standardFlowEnabled",
  "implicitFlowEnabled",
  "directAccessGrantsEnabled",
  "serviceAccountsEnabled",
  "consentRequired",
  "fullScopeAllowed",
] as const satisfies readonly (keyof ClientRepresentation)[];
const AUDIENCE_MAPPER = "oidc-audience-mapper";
const TRUSTED_HOSTS_POLICY = "trusted-hosts";

/** The seed's MCP client scopes: those carrying the Audience mapper (mcp:tools, mcp:resources). */
function listMcpScopeNames(): string[] {
  return (SEED_REALM.clientScopes ?? [])
    .filter((scope) => (scope.protocolMappers ?? []).some((mapper) => mapper.protocolMapper === AUDIENCE_MAPPER))
    .map((scope) => scope.name as string);
}

/** A seed client scope with the Audience mappers writing `audience`. */
function describeScope(name: string, audience: string): ClientScopeRepresentation {
  const seed = findSeedClientScope(name);
  return {
    ...seed,
    protocolMappers: (seed.protocolMappers ?? []).map((mapper) =>
      mapper.protocolMapper === AUDIENCE_MAPPER ? { ...mapper, config: { ...mapper.config, "included.custom.audience": audience } } : mapper,
    ),
  };
}

function rolesMappedTo(scopeName: string): string[] {
  return SEED_REALM.scopeMappings?.find((mapping) => mapping.clientScope === scopeName)?.roles ?? [];
}

function serviceAccountRoles(clientId: string): string[] {
  return SEED_REALM.users?.find((user) => user.serviceAccountClientId === clientId)?.realmRoles ?? [];
}

/** The keys of `desired` whose values `current` lacks or holds differently (lists compared as sets). */
function findDifferences(current: Record<string, unknown> | undefined, desired: Record<string, unknown>): string[] {
  const normalize = (value: unknown): string => JSON.stringify(Array.isArray(value) ? [...value].map(String).sort() : value);
  return Object.keys(desired).filter((key) => normalize(current?.[key]) !== normalize(desired[key]));
}

function describeChanges(current: Record<string, unknown> | undefined, desired: Record<string, unknown>, keys: readonly string[]): string {
  return keys.map((key) => `${key} ${JSON.stringify(current?.[key]) ?? "(unset)"} -> ${JSON.stringify(desired[key])}`).join(", ");
}

function pickFields(client: ClientRepresentation): Record<string, unknown> {
  return Object.fromEntries(MANAGED_CLIENT_FIELDS.filter((field) => client[field] !== undefined).map((field) => [field, client[field]]));
}

/** Reads the realm and lists what the README's steps still need to change, in order. */
export async function planRealmSetup(admin: KeycloakAdminClient, options: RealmSetupOptions): Promise<SetupStep[]> {
  const realm = await admin.realms.findOne({ realm: options.realm }, { catchNotFound: true });
  // The admin client answers a 404 with null.
  if (realm === undefined || realm === null) throw new Error(`realm "${options.realm}" does not exist: create it first (Admin console > Create realm)`);
  const lookups = createLookups(admin);
  return [
    ...(await planRoles(admin)),
    ...(await planClientScopes(admin, lookups, options)),
    ...(await planGroups(admin, lookups)),
    ...(await planClients(admin, lookups, options)),
    ...(await planRegistrationPolicy(admin, realm.id as string)),
    ...(options.demoUsers ? await planDemoUsers(admin, lookups) : []),
  ];
}

/**
 * Plans the realm's steps and applies them in order, each announced to `log` before it runs.
 * Resolves to the steps applied: none when the realm was already set up.
 */
export async function applyRealmSetup(admin: KeycloakAdminClient, options: RealmSetupOptions, log: (line: string) => void): Promise<SetupStep[]> {
  const steps = await planRealmSetup(admin, options);
  for (const step of steps) {
    log(step.description);
    await step.apply();
  }
  return steps;
}

/** Finds realm objects by name when a step runs (objects an earlier step created included). */
interface Lookups {
  role(name: string): Promise<RoleRepresentation>;
  clientScopeId(name: string): Promise<string>;
  groupId(name: string): Promise<string>;
  clientId(clientId: string): Promise<string>;
}

function createLookups(admin: KeycloakAdminClient): Lookups {
  const found = <T>(value: T | null | undefined, what: string): T => {
    if (value === undefined || value === null) throw new Error(`${what} is missing from the realm`);
    return value;
  };
  return {
    role: async (name) => found(await admin.roles.findOneByName({ name }), `realm role ${name}`),
    clientScopeId: async (name) => found((await admin.clientScopes.findOneByName({ name }))?.id, `client scope ${name}`),
    groupId: async (name) => found((await findGroup(admin, name))?.id, `group ${name}`),
    clientId: async (clientId) => found((await admin.clients.find({ clientId }))[0]?.id, `client ${clientId}`),
  };
}

async function findGroup(admin: KeycloakAdminClient, name: string) {
  return (await admin.groups.find({ search: name, exact: true, briefRepresentation: true })).find((group) => group.name === name);
}

async function planRoles(admin: KeycloakAdminClient): Promise<SetupStep[]> {
  const existing = new Set((await admin.roles.find()).map((role) => role.name));
  return (SEED_REALM.roles?.realm ?? [])
    .filter((role) => !existing.has(role.name))
    .map((role) => ({
      description: `create realm role ${role.name}`,
      apply: () => admin.roles.create({ name: role.name, description: role.description }).then(() => undefined),
    }));
}

async function planClientScopes(admin: KeycloakAdminClient, lookups: Lookups, options: RealmSetupOptions): Promise<SetupStep[]> {
  const steps: SetupStep[] = [];
  const existingScopes = await admin.clientScopes.find();
  const defaultOptional = new Set((await admin.clientScopes.listDefaultOptionalClientScopes()).map((scope) => scope.name));
  for (const name of listMcpScopeNames()) {
    const desired = describeScope(name, options.audience);
    const roles = rolesMappedTo(name);
    const mapRoles = async (missing: readonly string[]): Promise<void> => {
      const id = await lookups.clientScopeId(name);
      await admin.clientScopes.addRealmScopeMappings({ id }, await Promise.all(missing.map((role) => lookups.role(role))));
    };
    const current = existingScopes.find((scope) => scope.name === name);
    if (current === undefined) {
      const mappers = (desired.protocolMappers ?? []).map((mapper) => mapper.name).join(", ");
      steps.push({
        description: `create client scope ${name} (audience ${options.audience}; mappers ${mappers}; role ${roles.join(", ")})`,
        apply: async () => {
          await admin.clientScopes.create(desired);
          await mapRoles(roles);
        },
      });
    } else {
      steps.push(...(await planScopeChanges(admin, current, desired)));
      const mapped = new Set((await admin.clientScopes.listRealmScopeMappings({ id: current.id as string })).map((role) => role.name));
      const missing = roles.filter((role) => !mapped.has(role));
      if (missing.length > 0) steps.push({ description: `map realm role ${missing.join(", ")} to client scope ${name}`, apply: () => mapRoles(missing) });
    }
    if (!defaultOptional.has(name)) {
      steps.push({
        description: `add ${name} to the realm's default optional client scopes (registered clients may then request it)`,
        apply: async () => admin.clientScopes.addDefaultOptionalClientScope({ id: await lookups.clientScopeId(name) }),
      });
    }
  }
  return steps;
}

async function planScopeChanges(admin: KeycloakAdminClient, current: ClientScopeRepresentation, desired: ClientScopeRepresentation): Promise<SetupStep[]> {
  const id = current.id as string;
  const name = current.name as string;
  const steps: SetupStep[] = [];
  const desiredAttributes = desired.attributes ?? {};
  const changedAttributes = findDifferences(current.attributes, desiredAttributes);
  if (changedAttributes.length > 0) {
    steps.push({
      description: `set client scope ${name}: ${describeChanges(current.attributes, desiredAttributes, changedAttributes)}`,
      apply: () => admin.clientScopes.update({ id }, { ...current, attributes: { ...current.attributes, ...desiredAttributes } }),
    });
  }
  const currentMappers = await admin.clientScopes.listProtocolMappers({ id });
  for (const mapper of desired.protocolMappers ?? []) {
    const existing = currentMappers.find((candidate) => candidate.name === mapper.name);
    steps.push(...planMapper(admin, id, name, existing, mapper));
  }
  return steps;
}

function planMapper(admin: KeycloakAdminClient, scopeId: string, scopeName: string, existing: ProtocolMapperRepresentation | undefined, desired: ProtocolMapperRepresentation): SetupStep[] {
  if (existing === undefined) {
    return [{ description: `add mapper "${desired.name}" (${desired.protocolMapper}) to client scope ${scopeName}`, apply: () => admin.clientScopes.addProtocolMapper({ id: scopeId }, desired) }];
  }
  if (existing.protocolMapper !== desired.protocolMapper) {
    throw new Error(`client scope ${scopeName} has a mapper "${desired.name}" of type ${existing.protocolMapper}, not ${desired.protocolMapper}: rename or delete it`);
  }
  const desiredConfig = desired.config ?? {};
  const changed = findDifferences(existing.config, desiredConfig);
  if (changed.length === 0) return [];
  return [
    {
      description: `set mapper "${desired.name}" of client scope ${scopeName}: ${describeChanges(existing.config, desiredConfig, changed)}`,
      apply: () => admin.clientScopes.updateProtocolMapper({ id: scopeId, mapperId: existing.id as string }, { ...existing, config: { ...existing.config, ...desiredConfig } }),
    },
  ];
}

async function planGroups(admin: KeycloakAdminClient, lookups: Lookups): Promise<SetupStep[]> {
  const steps: SetupStep[] = [];
  for (const group of SEED_REALM.groups ?? []) {
    const name = group.name as string;
    const roles = group.realmRoles ?? [];
    const grant = async (missing: readonly string[]): Promise<void> => {
      const id = await lookups.groupId(name);
      await admin.groups.addRealmRoleMappings({ id, roles: (await Promise.all(missing.map((role) => lookups.role(role)))) as { id: string; name: string }[] });
    };
    const current = await findGroup(admin, name);
    if (current === undefined) {
      steps.push({
        description: `create group ${name} with realm role ${roles.join(", ")}`,
        apply: async () => {
          await admin.groups.create({ name });
          await grant(roles);
        },
      });
      continue;
    }
    const held = new Set((await admin.groups.listRealmRoleMappings({ id: current.id as string })).map((role) => role.name));
    const missing = roles.filter((role) => !held.has(role));
    if (missing.length > 0) steps.push({ description: `grant realm role ${missing.join(", ")} to group ${name}`, apply: () => grant(missing) });
  }
  return steps;
}

async function planClients(admin: KeycloakAdminClient, lookups: Lookups, options: RealmSetupOptions): Promise<SetupStep[]> {
  const steps: SetupStep[] = [];
  for (const clientId of MCP_CLIENT_IDS) {
    const { secret: seedSecret, ...seed } = findSeedClient(clientId);
    const secret = seed.publicClient === true || seedSecret === undefined ? undefined : options.machineClientSecret;
    const roles = serviceAccountRoles(clientId);
    const grantServiceAccount = async (missing: readonly string[]): Promise<void> => {
      const user = await admin.clients.getServiceAccountUser({ id: await lookups.clientId(clientId) });
      await admin.users.addRealmRoleMappings({ id: user.id as string, roles: (await Promise.all(missing.map((role) => lookups.role(role)))) as { id: string; name: string }[] });
    };
    const current = (await admin.clients.find({ clientId }))[0];
    if (current === undefined) {
      const secretNote = secret === undefined && seed.publicClient !== true ? "; Keycloak generates its secret (Clients > Credentials)" : "";
      steps.push({
        description: `create client ${clientId} (${seed.publicClient === true ? "public" : "confidential"}${roles.length > 0 ? `; service account role ${roles.join(", ")}` : ""}${secretNote})`,
        apply: async () => {
          await admin.clients.create({ ...seed, ...(secret === undefined ? {} : { secret }) });
          if (roles.length > 0) await grantServiceAccount(roles);
        },
      });
      continue;
    }
    steps.push(...(await planClientChanges(admin, current, seed, secret, lookups)));
    if (roles.length > 0 && current.serviceAccountsEnabled === true) {
      const user = await admin.clients.getServiceAccountUser({ id: current.id as string });
      const held = new Set((await admin.users.listRealmRoleMappings({ id: user.id as string })).map((role) => role.name));
      const missing = roles.filter((role) => !held.has(role));
      if (missing.length > 0) steps.push({ description: `grant realm role ${missing.join(", ")} to the service account of ${clientId}`, apply: () => grantServiceAccount(missing) });
    } else if (roles.length > 0) {
      steps.push({ description: `grant realm role ${roles.join(", ")} to the service account of ${clientId}`, apply: () => grantServiceAccount(roles) });
    }
  }
  return steps;
}

async function planClientChanges(admin: KeycloakAdminClient, current: ClientRepresentation, seed: ClientRepresentation, secret: string | undefined, lookups: Lookups): Promise<SetupStep[]> {
  const id = current.id as string;
  const clientId = current.clientId as string;
  const steps: SetupStep[] = [];
  const desiredFields = pickFields(seed);
  const changed = findDifferences(current as Record<string, unknown>, desiredFields);
  const missingRedirects = (seed.redirectUris ?? []).filter((uri) => !(current.redirectUris ?? []).includes(uri));
  const desiredAttributes: Record<string, unknown> = seed.attributes ?? {};
  const changedAttributes = findDifferences(current.attributes, desiredAttributes);
  const changes = [
    describeChanges(current as Record<string, unknown>, desiredFields, changed),
    missingRedirects.length > 0 ? `add redirect URIs ${missingRedirects.join(" ")}` : "",
    describeChanges(current.attributes, desiredAttributes, changedAttributes),
  ].filter((text) => text !== "");
  if (changes.length > 0) {
    steps.push({
      description: `set client ${clientId}: ${changes.join(", ")}`,
      apply: () =>
        admin.clients.update(
          { id },
          {
            ...current,
            ...desiredFields,
            redirectUris: [...(current.redirectUris ?? []), ...missingRedirects],
            attributes: { ...current.attributes, ...desiredAttributes },
          },
        ),
    });
  }
  if (secret !== undefined && (await admin.clients.getClientSecret({ id })).value !== secret) {
    steps.push({ description: `set the client secret of ${clientId} (the one given)`, apply: () => admin.clients.update({ id }, { ...current, secret }) });
  }
  const attached = new Set([...(await admin.clients.listDefaultClientScopes({ id })), ...(await admin.clients.listOptionalClientScopes({ id }))].map((scope) => scope.name));
  const mcpScopes = new Set(listMcpScopeNames());
  for (const [kind, names] of [
    ["default", seed.defaultClientScopes ?? []],
    ["optional", seed.optionalClientScopes ?? []],
  ] as const) {
    for (const name of names.filter((scope) => mcpScopes.has(scope) && !attached.has(scope))) {
      steps.push({
        description: `attach client scope ${name} to client ${clientId} as ${kind}`,
        apply: async () => {
          const clientScopeId = await lookups.clientScopeId(name);
          await (kind === "default" ? admin.clients.addDefaultClientScope({ id, clientScopeId }) : admin.clients.addOptionalClientScope({ id, clientScopeId }));
        },
      });
    }
  }
  return steps;
}

async function planRegistrationPolicy(admin: KeycloakAdminClient, realmId: string): Promise<SetupStep[]> {
  const seed = findSeedRegistrationPolicies("anonymous").find((policy) => policy.providerId === TRUSTED_HOSTS_POLICY) as ComponentExport;
  const desiredConfig = (seed.config ?? {}) as Record<string, string[]>;
  const current = (await admin.components.find({ type: REGISTRATION_POLICY_TYPE })).find(
    (component) => component.subType === "anonymous" && component.providerId === TRUSTED_HOSTS_POLICY,
  );
  const hosts = (desiredConfig["trusted-hosts"] ?? []).join(", ");
  if (current === undefined) {
    return [
      {
        description: `create the anonymous client registration policy "${seed.name}": hosts ${hosts}, any sending host, redirect URIs on those hosts only`,
        apply: () =>
          admin.components
            .create({ name: seed.name, providerId: TRUSTED_HOSTS_POLICY, providerType: REGISTRATION_POLICY_TYPE, subType: "anonymous", parentId: realmId, config: desiredConfig })
            .then(() => undefined),
      },
    ];
  }
  const changed = findDifferences(current.config, desiredConfig);
  if (changed.length === 0) return [];
  return [
    {
      description: `set the anonymous client registration policy "${current.name}": ${describeChanges(current.config, desiredConfig, changed)}`,
      apply: () => admin.components.update({ id: current.id as string }, { ...current, config: { ...current.config, ...desiredConfig } }),
    },
  ];
}

async function planDemoUsers(admin: KeycloakAdminClient, lookups: Lookups): Promise<SetupStep[]> {
  const steps: SetupStep[] = [];
  for (const { groups: groupPaths = [], ...person } of listSeedPeople()) {
    const username = person.username as string;
    const groupNames = groupPaths.map((path) => path.replace(/^\//, ""));
    const join = async (names: readonly string[]): Promise<void> => {
      const [user] = await admin.users.find({ username, exact: true });
      for (const name of names) await admin.users.addToGroup({ id: user?.id as string, groupId: await lookups.groupId(name) });
    };
    const [current] = await admin.users.find({ username, exact: true });
    if (current === undefined) {
      steps.push({
        description: `create demo user ${username} (password from the seed realm) in group ${groupNames.join(", ")}`,
        apply: async () => {
          await admin.users.create(person);
          await join(groupNames);
        },
      });
      continue;
    }
    const member = new Set((await admin.users.listGroups({ id: current.id as string })).map((group) => group.name));
    const missing = groupNames.filter((name) => !member.has(name));
    if (missing.length > 0) steps.push({ description: `add demo user ${username} to group ${missing.join(", ")}`, apply: () => join(missing) });
  }
  return steps;
}
