import { generateKeyPair, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { calculateJwkThumbprint } from "jose";
import {
  Provider,
  errors,
  interactionPolicy,
  type AccessToken,
  type Account,
  type AdapterFactory,
  type Client,
  type ClientCredentials,
  type JWK,
  type JWTStructured,
  type ResourceServer,
} from "oidc-provider";
import { formatHttpOrigin } from "../kong/driver";
import { closeServer, listenOn, readRequestBody } from "./http-server";
import { renderErrorPage, renderLoginPage } from "./login-page";
import { createMemoryAdapterFactory } from "./memory-adapter";
import {
  DEFAULT_USERS,
  MCP_SCOPES,
  resolveRealmRoles,
  selectPermittedScopes,
  selectRolesInScope,
  type RealmUser,
} from "./realm-roles";

/** Keycloak serves a realm under this path; the issuer ends with it. */
const REALM_PATH = "/realms/mcp";

/** Keycloak's endpoint paths, relative to the issuer. */
const KEYCLOAK_ROUTES = {
  authorization: "/protocol/openid-connect/auth",
  token: "/protocol/openid-connect/token",
  introspection: "/protocol/openid-connect/token/introspect",
  revocation: "/protocol/openid-connect/revoke",
  jwks: "/protocol/openid-connect/certs",
  userinfo: "/protocol/openid-connect/userinfo",
  registration: "/clients-registrations/openid-connect",
  pushed_authorization_request: "/protocol/openid-connect/ext/par/request",
} as const;

const LOGIN_PATH_PREFIX = "/login-actions/authenticate/";

/** The static public client, as in the production realm. */
const PUBLIC_CLIENT_ID = "mcp-client";

/** The confidential client of machine callers (client_credentials, service-account role mcp:tools). */
const MACHINE_CLIENT = {
  clientId: "mcp-machine",
  clientSecret: "mcp-machine-secret",
  serviceAccountRoles: ["mcp:tools"],
} as const;

/** Keycloak's default client scope of `mcp-client`: what a request that names no scope gets. */
const DEFAULT_SCOPE = "mcp:tools";

const LOGIN_FORM_MAX_BYTES = 8192;

/** Where the demo authorization server listens and whom it knows. */
export interface AuthorizationServerOptions {
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  readonly host?: string;
  /** The MCP endpoint URL: the only resource indicator accepted, and the tokens' audience. */
  readonly mcpResourceUrl: string;
  /** Realm users; defaults to the member and the admin of {@link DEFAULT_USERS}. */
  readonly users?: readonly RealmUser[];
  readonly accessTokenTtlSeconds?: number;
  /**
   * Access tokens for the MCP resource: Keycloak's JWTs (the default), or opaque tokens that only
   * the introspection endpoint can read.
   */
  readonly accessTokenFormat?: "jwt" | "opaque";
  /** Receives one line per request and per sign-in; without it the server prints nothing. */
  readonly logger?: (line: string) => void;
}

/** A running demo authorization server. */
export interface AuthorizationServer {
  /** `http://<host>:<port>/realms/mcp`. */
  readonly issuer: string;
  readonly discoveryUrl: string;
  readonly jwksUri: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  /** RFC 7662; any confidential client may ask, as in Keycloak. */
  readonly introspectionEndpoint: string;
  /** RFC 7009; a client revokes its own tokens. */
  readonly revocationEndpoint: string;
  readonly registrationEndpoint: string;
  readonly publicClientId: string;
  readonly machineClient: { readonly clientId: string; readonly clientSecret: string };
  readonly users: readonly RealmUser[];
  /** Key ids of the published signing keys; the first one signs new tokens. */
  signingKeyIds(): string[];
  /**
   * Publishes a new RS256 signing key first in the JWKS, so that it signs every token from now on,
   * and keeps the previous keys unless `retainPrevious` is false. Resolves to the new key id.
   */
  rotateKeys(options?: { readonly retainPrevious?: boolean }): Promise<string>;
  close(): Promise<void>;
}

/** Everything a Provider instance is built from; shared by the instances that key rotation creates. */
/** Human-facing URIs of client metadata (RFC 7591 §2) that some clients register empty. */
const EMPTY_URI_MEMBERS = ["client_uri", "logo_uri", "policy_uri", "tos_uri"];

interface RealmSettings {
  readonly issuer: string;
  readonly mcpResourceUrl: string;
  readonly users: readonly RealmUser[];
  readonly accessTokenTtlSeconds: number;
  readonly accessTokenFormat: "jwt" | "opaque";
  readonly adapter: AdapterFactory;
  readonly cookieKeys: string[];
}

/**
 * Starts an oidc-provider authorization server shaped like the production Keycloak realm `mcp`:
 * Keycloak's issuer and endpoint paths, open dynamic client registration, the static clients
 * `mcp-client` and `mcp-machine`, a sign-in form, Keycloak-shaped JWT access tokens for the MCP
 * resource, and token introspection and revocation at Keycloak's paths.
 */
export async function startAuthorizationServer(options: AuthorizationServerOptions): Promise<AuthorizationServer> {
  const host = options.host ?? "127.0.0.1";
  const log = options.logger ?? (() => undefined);
  let signingKeys = [await generateSigningKey()];
  const server = createServer();
  await listenOn(server, options.port, host);
  const { port } = server.address() as AddressInfo;
  const issuer = `${formatHttpOrigin(host, port)}${REALM_PATH}`;
  const realm: RealmSettings = {
    issuer,
    mcpResourceUrl: options.mcpResourceUrl,
    users: options.users ?? DEFAULT_USERS,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
    accessTokenFormat: options.accessTokenFormat ?? "jwt",
    adapter: createMemoryAdapterFactory(),
    cookieKeys: [randomBytes(32).toString("base64url")],
  };

  let provider = createProvider(realm, signingKeys, log);
  let handleProviderRequest = provider.callback();

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", issuer);
    res.on("finish", () => log(`${req.method} ${url.pathname} -> ${res.statusCode}`));
    if (!url.pathname.startsWith(`${REALM_PATH}/`)) {
      sendText(res, 404, "Not Found");
      return;
    }
    const realmPath = url.pathname.slice(REALM_PATH.length);
    if (realmPath.startsWith(LOGIN_PATH_PREFIX)) {
      handleSignIn(provider, realm, req, res, realmPath.slice(LOGIN_PATH_PREFIX.length), log).catch((error: unknown) => {
        log(`sign-in failed: ${String(error)}`);
        if (!res.headersSent) sendHtml(res, 500, renderErrorPage("Sign-in failed", "The server could not complete the sign-in."));
      });
      return;
    }
    if (req.method === "GET" && realmPath === KEYCLOAK_ROUTES.authorization && !url.searchParams.has("scope")) {
      // Keycloak applies the client's default client scopes when a request names none, where
      // oidc-provider would refuse an authorization that ends up granting no scope at all.
      url.searchParams.set("scope", DEFAULT_SCOPE);
    }
    // oidc-provider finds its mount path in `originalUrl` (the Express convention) and builds every
    // URL it publishes from it, so the stripped realm prefix reappears in metadata and redirects.
    Object.assign(req, { originalUrl: `${url.pathname}${url.search}`, url: `${realmPath}${url.search}` });
    void handleProviderRequest(req, res);
  });

  return {
    issuer,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    jwksUri: `${issuer}${KEYCLOAK_ROUTES.jwks}`,
    authorizationEndpoint: `${issuer}${KEYCLOAK_ROUTES.authorization}`,
    tokenEndpoint: `${issuer}${KEYCLOAK_ROUTES.token}`,
    introspectionEndpoint: `${issuer}${KEYCLOAK_ROUTES.introspection}`,
    revocationEndpoint: `${issuer}${KEYCLOAK_ROUTES.revocation}`,
    registrationEndpoint: `${issuer}${KEYCLOAK_ROUTES.registration}`,
    publicClientId: PUBLIC_CLIENT_ID,
    machineClient: { clientId: MACHINE_CLIENT.clientId, clientSecret: MACHINE_CLIENT.clientSecret },
    users: realm.users,
    signingKeyIds: () => signingKeys.map((key) => String(key.kid)),
    rotateKeys: async ({ retainPrevious = true } = {}) => {
      const newKey = await generateSigningKey();
      signingKeys = retainPrevious ? [newKey, ...signingKeys] : [newKey];
      // oidc-provider reads its key set once, at construction: rotation means a new instance over
      // the same store and cookie keys, so sessions and registered clients carry over.
      provider = createProvider(realm, signingKeys, log);
      handleProviderRequest = provider.callback();
      log(`signing key rotated: ${String(newKey.kid)} now signs`);
      return String(newKey.kid);
    },
    close: () => closeServer(server),
  };
}

function createProvider(realm: RealmSettings, signingKeys: readonly JWK[], log: (line: string) => void): Provider {
  const provider = new Provider(realm.issuer, {
    adapter: realm.adapter,
    clients: [
      {
        client_id: PUBLIC_CLIENT_ID,
        token_endpoint_auth_method: "none",
        // Native clients may vary the port of a loopback redirect URI (RFC 8252 §7.3), which is
        // what desktop MCP clients listening on an ephemeral port need.
        application_type: "native",
        redirect_uris: [
          "http://127.0.0.1/",
          "http://127.0.0.1/callback",
          "http://127.0.0.1/oauth/callback",
          "http://localhost/",
          "http://localhost/callback",
          "http://localhost/oauth/callback",
          "https://vscode.dev/redirect",
          "https://insiders.vscode.dev/redirect",
        ],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
      {
        client_id: MACHINE_CLIENT.clientId,
        client_secret: MACHINE_CLIENT.clientSecret,
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
      },
    ],
    jwks: { keys: [...signingKeys] },
    cookies: { keys: realm.cookieKeys },
    scopes: ["openid", ...MCP_SCOPES],
    routes: KEYCLOAK_ROUTES,
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      clientCredentials: { enabled: true },
      // Keycloak lets any confidential client of the realm introspect, and a client revoke its own tokens.
      introspection: { enabled: true, allowedPolicy: (_ctx, client) => client.clientAuthMethod !== "none" },
      revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      rpInitiatedLogout: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // Clients that omit `resource` still get a JWT for the MCP endpoint, as Keycloak's
        // audience mapper gives them.
        defaultResource: () => realm.mcpResourceUrl,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator, client) => describeMcpResource(realm, resourceIndicator, client),
      },
    },
    extraClientMetadata: {
      properties: ["scope", ...EMPTY_URI_MEMBERS],
      // RFC 7591 §2 lets a server ignore requested metadata. A registered `scope` would pin a
      // dynamically registered client to the scopes of its first request (oidc-provider refuses
      // any other), which breaks the step-up request that follows a 403 insufficient_scope.
      // mcp-use 1.34 registers with `client_uri: ""`, which oidc-provider would refuse.
      validator: (_ctx, key, value, metadata) => {
        if (key === "scope" || value === "") delete (metadata as Record<string, unknown>)[key];
      },
    },
    findAccount: (_ctx, accountId) => findRealmAccount(realm.users, accountId),
    formats: { customizers: { jwt: (_ctx, token, jwt) => shapeKeycloakAccessToken(realm, token, jwt) } },
    interactions: {
      url: (_ctx, interaction) => `${REALM_PATH}${LOGIN_PATH_PREFIX}${interaction.uid}`,
      policy: createSignInEveryTimePolicy(),
    },
    // MCP SDK 1.32 answers a 403 insufficient_scope by refreshing when it holds a refresh token,
    // which brings back the same scopes; without one it starts the authorization it needs.
    issueRefreshToken: () => false,
    // Browser-based MCP clients (the MCP Inspector) call the token and registration endpoints.
    clientBasedCORS: () => true,
    renderError: (ctx, out) => {
      ctx.type = "html";
      ctx.body = renderErrorPage(String(out.error), String(out.error_description ?? ""));
    },
    ttl: {
      AccessToken: realm.accessTokenTtlSeconds,
      ClientCredentials: realm.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
  });
  provider.on("server_error", (_ctx: unknown, error: unknown) => log(`server error: ${String(error)}`));
  // Koa would print errors that escape oidc-provider to stderr; the server is quiet without a logger.
  provider.silent = true;
  return provider;
}

/**
 * The MCP resource as oidc-provider's resource indicators see it: JWT access tokens signed with
 * RS256 (or opaque ones, if the realm says so), and the scopes the client may receive. Users are narrowed further when they sign in;
 * a service account only ever receives the scopes its own roles permit.
 */
function describeMcpResource(realm: RealmSettings, resourceIndicator: string, client: Client): ResourceServer {
  if (resourceIndicator !== realm.mcpResourceUrl) {
    throw new errors.InvalidTarget(`unknown resource; this realm serves ${realm.mcpResourceUrl}`);
  }
  const serviceAccountRoles = client.clientId === MACHINE_CLIENT.clientId ? MACHINE_CLIENT.serviceAccountRoles : undefined;
  const scopes = serviceAccountRoles === undefined ? MCP_SCOPES : selectPermittedScopes(serviceAccountRoles, MCP_SCOPES);
  return {
    scope: scopes.join(" "),
    audience: realm.mcpResourceUrl,
    accessTokenTTL: realm.accessTokenTtlSeconds,
    accessTokenFormat: realm.accessTokenFormat,
    ...(realm.accessTokenFormat === "jwt" ? { jwt: { sign: { alg: "RS256" } } } : {}),
  };
}

function findRealmAccount(users: readonly RealmUser[], accountId: string): Account | undefined {
  const user = users.find((candidate) => candidate.id === accountId);
  if (user === undefined) return undefined;
  return { accountId: user.id, claims: () => ({ sub: user.id, preferred_username: user.username }) };
}

/**
 * Rewrites oidc-provider's RFC 9068 access token into Keycloak's shape: header `typ: JWT`,
 * payload `typ: Bearer`, `azp`, `aud` `[<MCP URL>, "account"]` (`"account"` alone when no MCP
 * scope was granted), and the roles in scope in both
 * `realm_access.roles` and the multivalued `mcp_scopes` claim.
 */
function shapeKeycloakAccessToken(realm: RealmSettings, token: AccessToken | ClientCredentials, jwt: JWTStructured): void {
  const grantedScopes = (token.scope ?? "").split(" ").filter(Boolean);
  const subject =
    token.kind === "AccessToken"
      ? describeUser(realm.users, token.accountId)
      : { roles: MACHINE_CLIENT.serviceAccountRoles, preferredUsername: `service-account-${token.clientId ?? ""}` };
  const rolesInScope = selectRolesInScope(subject.roles, grantedScopes);
  // The realm's Audience mapper sits on the MCP client scopes: without one of them granted,
  // Keycloak's token names only its default `account` audience.
  const audience = grantedScopes.some((scope) => (MCP_SCOPES as readonly string[]).includes(scope)) ? [realm.mcpResourceUrl, "account"] : "account";
  jwt.header = { ...jwt.header, typ: "JWT" };
  Object.assign(jwt.payload, {
    aud: audience,
    typ: "Bearer",
    azp: token.clientId,
    preferred_username: subject.preferredUsername,
    realm_access: { roles: rolesInScope },
    mcp_scopes: rolesInScope,
  });
  // Keycloak names the client in `client_id` only in service-account tokens; user tokens carry `azp`.
  if (token.kind === "AccessToken") delete jwt.payload.client_id;
}

function describeUser(users: readonly RealmUser[], accountId: string): { roles: string[]; preferredUsername: string } {
  const user = users.find((candidate) => candidate.id === accountId);
  return { roles: resolveRealmRoles(user?.groups ?? []), preferredUsername: user?.username ?? accountId };
}

/**
 * Asks for the username and password on every authorization request, even within a signed-in
 * session, so that a person (or a test) can sign in as another user to step up.
 */
function createSignInEveryTimePolicy(): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base();
  policy.get("login")?.checks.add(
    new interactionPolicy.Check("sign_in_every_time", "the demo realm asks for credentials on every authorization", (ctx) =>
      ctx.oidc.result?.login === undefined ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT,
    ),
  );
  return policy;
}

/**
 * Serves the sign-in form of one interaction and, on valid credentials, finishes the interaction
 * with a grant of the requested scopes the user's roles permit; the others are recorded as refused
 * so that no consent screen follows (Keycloak's behaviour when consent is not required).
 */
async function handleSignIn(
  provider: Provider,
  realm: RealmSettings,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
  log: (line: string) => void,
): Promise<void> {
  const interaction = await provider.interactionDetails(req, res).catch((error: unknown) => {
    if (error instanceof errors.SessionNotFound) return undefined;
    throw error;
  });
  if (interaction === undefined || interaction.uid !== uid) {
    sendHtml(res, 400, renderErrorPage("Sign-in expired", "Start the sign-in again from your MCP client."));
    return;
  }
  const clientId = String(interaction.params.client_id);
  const requestedScopes = String(interaction.params.scope ?? "").split(" ").filter(Boolean);
  const page = { action: `${REALM_PATH}${LOGIN_PATH_PREFIX}${uid}`, clientId, requestedScopes };
  if (req.method === "GET") {
    sendHtml(res, 200, renderLoginPage(page));
    return;
  }
  if (req.method !== "POST") {
    res.setHeader("Allow", "GET, POST");
    sendText(res, 405, "Method Not Allowed");
    return;
  }
  const form = new URLSearchParams(await readRequestBody(req, LOGIN_FORM_MAX_BYTES));
  const username = form.get("username") ?? "";
  const user = realm.users.find((candidate) => candidate.username === username && candidate.password === form.get("password"));
  if (user === undefined) {
    log(`sign-in refused for "${username}"`);
    sendHtml(res, 200, renderLoginPage({ ...page, username, failed: true }));
    return;
  }
  const permittedScopes = selectPermittedScopes(resolveRealmRoles(user.groups), requestedScopes);
  const refusedScopes = requestedScopes.filter((scope) => !permittedScopes.includes(scope));
  const grant = new provider.Grant({ accountId: user.id, clientId });
  grant.addOIDCScope(permittedScopes);
  grant.rejectOIDCScope(refusedScopes);
  grant.addResourceScope(realm.mcpResourceUrl, permittedScopes);
  grant.rejectResourceScope(realm.mcpResourceUrl, refusedScopes);
  const grantId = await grant.save();
  log(`${user.username} signed in to ${clientId}; granted "${permittedScopes.join(" ")}"`);
  await provider.interactionFinished(req, res, { login: { accountId: user.id }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

async function generateSigningKey(): Promise<JWK> {
  const { privateKey } = await promisify(generateKeyPair)("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" });
  // Keycloak's kids are opaque strings; the RFC 7638 thumbprint is one and is unique per key.
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: "RS256", use: "sig" } as JWK;
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" }).end(html);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" }).end(text);
}
