import { createHash } from "node:crypto";
import { checkScopeToken, ConfigError } from "./config-error";
import { SUPPORTED_ALGORITHMS } from "./jws-signature";
import { compileMethodAcl, type MethodAcl } from "./method-acl";
import { isJsonObject } from "./unique-key-json";

/** Defaults shared by the Kong schema and by this compiler, so the two cannot drift. */
export const CONFIG_DEFAULTS = {
  metadata_path: "/.well-known/oauth-protected-resource",
  jwks_uri: "/.well-known/jwks.json",
  header_name: "Authorization",
  forward_authorization_header: false,
  enable_acl: false,
  acl_claim: "scope",
  token_cache_ttl: 300,
  token_cache_size: 10000,
  http_timeout: 10000,
  allowed_algorithms: SUPPORTED_ALGORITHMS,
  clock_skew: 30,
  max_body_size: 1048576,
  run_on_preflight: true,
  jwks_refetch_cooldown: 10,
  acl_mode: "enforce",
  keycloak_compat: false,
  // Not id by default: consumer ids are not secret (X-Consumer-ID, logs), and a claim a user or
  // client can influence (a chosen username, a registered client name) must not pick any consumer.
  consumer_by: ["username"],
  consumer_optional: false,
  log_decisions: false,
  introspection: "off",
  client_auth_method: "client_secret_basic",
  introspection_negative_cache_ttl: 30,
  filter_lists: false,
  // What a client sends to open and keep a session (MCP lifecycle; server/discover is the
  // 2026-07-28 probe the Inspector sends first): a token that may do anything may do these.
  session_methods: ["initialize", "ping", "notifications/initialized", "notifications/cancelled", "server/discover"],
} as const;

/** `acl_mode`: enforce the ACL, or only log what it would refuse. */
export const ACL_MODES = ["enforce", "dry_run"] as const;

/**
 * `introspection` per authorization server: never; for opaque tokens (not JWTs); for its JWTs only,
 * after local verification (a revocation check; no opaque token is sent to it); or for both.
 */
export const INTROSPECTION_MODES = ["off", "opaque", "jwt", "always"] as const;

/** How the gate authenticates to an introspection endpoint (RFC 6749 §2.3.1, RFC 7662 §2.1). */
export const CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"] as const;

/**
 * Authorization servers that may introspect opaque tokens (`opaque` or `always`): an opaque token
 * is sent to each in turn until one vouches for it, so this bounds the calls one unknown token can
 * cause. Servers with `jwt` are not counted: they are asked about their own verified JWTs only.
 */
export const MAX_OPAQUE_TOKEN_SERVERS = 4;

/**
 * `consumer_by`: the consumer fields a claim value is looked up by. Kong 3.9 gives external plugins
 * `kong.client.load_consumer` (by id, then by username) only: the custom_id lookup is a DAO method
 * that the plugin-server bridge calls without its object, so it cannot be offered.
 */
export const CONSUMER_LOOKUP_FIELDS = ["username", "id"] as const;

/**
 * Ranges of the numeric fields, shared by the Kong schema (`between`) and this compiler. The JWKS
 * refetch cooldown has a floor of 1 s: at 0, forged tokens that only carry a configured `iss` and
 * an unknown kid would drive one JWKS fetch per request.
 */
export const CONFIG_BOUNDS = {
  token_cache_ttl: [0, 86400],
  token_cache_size: [0, 1000000],
  http_timeout: [1, 30000],
  clock_skew: [0, 300],
  max_body_size: [1, 67108864],
  jwks_refetch_cooldown: [1, 3600],
  introspection_negative_cache_ttl: [0, 3600],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * Headers `upstream_headers` may not set, compared without regard to case: a claim must not choose
 * the upstream's host, frame or decode its body (RFC 9112 §6-7, RFC 9110 §8.3-8.4, the hop-by-hop
 * fields of RFC 9110 §7.6.1), reach a proxy, or contradict the MCP headers the gate checked. The
 * token header (`header_name`) is refused too.
 */
export const RESERVED_UPSTREAM_HEADERS = [
  "Host",
  "Content-Length",
  "Content-Type",
  "Content-Encoding",
  "Transfer-Encoding",
  "Connection",
  "Keep-Alive",
  "TE",
  "Trailer",
  "Upgrade",
  "Expect",
  "Mcp-Session-Id",
  "Mcp-Method",
  "Mcp-Name",
  "MCP-Protocol-Version",
] as const;
/** Header name prefixes `upstream_headers` may not use (any case). */
export const RESERVED_UPSTREAM_HEADER_PREFIXES = ["Proxy-"] as const;

type NumericField = keyof typeof CONFIG_BOUNDS;
type BooleanField = { [Field in keyof typeof CONFIG_DEFAULTS]: (typeof CONFIG_DEFAULTS)[Field] extends boolean ? Field : never }[keyof typeof CONFIG_DEFAULTS];

export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** Where and how the gate asks an authorization server whether a token is active (RFC 7662). */
export interface IntrospectionEndpoint {
  /** opaque: tokens that are not JWTs; jwt: its JWTs, after local verification (a revocation check); always: both. */
  readonly mode: "opaque" | "jwt" | "always";
  readonly url: string;
  readonly clientId: string;
  /** Sent to the endpoint only: never logged, never part of a cache key. */
  readonly clientSecret: string;
  readonly authMethod: ClientAuthMethod;
}

/** An authorization server with introspection on. */
export type IntrospectingServer = AuthorizationServer & { readonly introspection: IntrospectionEndpoint };

export interface AuthorizationServer {
  /** Listed in the metadata document; clients discover the server's own metadata from it. */
  readonly url: string;
  /** Compared with the token's `iss`, code point by code point (RFC 7519 §4.1.1). */
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUri: string;
  /** Null when `introspection` is off: no token is ever sent to this server. */
  readonly introspection: IntrospectionEndpoint | null;
}

/** An identity header for the upstream (`upstream_headers`): its name and the claim it carries. */
export interface IdentityHeader {
  readonly header: string;
  readonly claimPath: readonly string[];
}

/** Everything that decides how a token is verified and what is kept from it. */
export interface VerificationPolicy {
  readonly issuers: ReadonlyMap<string, AuthorizationServer>;
  readonly allowedAlgorithms: ReadonlySet<string>;
  readonly clockSkewSeconds: number;
  readonly aclClaimPath: readonly string[];
  /** Keycloak preset: payload typ "Bearer", no `account`-only audience, realm roles as grants. */
  readonly keycloakCompat: boolean;
  /** Claims kept for identity headers, in `upstream_headers` order. */
  readonly identityClaims: readonly (readonly string[])[];
  /** Claims kept to find the Kong consumer, in `consumer_claim` order. */
  readonly consumerClaims: readonly (readonly string[])[];
  readonly httpTimeoutMs: number;
  readonly jwksRefetchCooldownMs: number;
  /** Servers with introspection opaque or always, in configured order: where an opaque token may be sent. */
  readonly opaqueTokenServers: readonly IntrospectingServer[];
}

/** How a verified token becomes a Kong consumer (`consumer_claim`, `consumer_by`, ...). */
export interface ConsumerMapping {
  /** The claims tried in order, as written (for messages) and as paths. */
  readonly claims: readonly { readonly name: string; readonly path: readonly string[] }[];
  readonly byUsername: boolean;
  readonly byId: boolean;
  /** No consumer matched: proceed with the token's credential alone instead of refusing. */
  readonly optional: boolean;
  /** The consumer (id or username) a request is authenticated as when none matches. */
  readonly anonymous?: string;
}

export interface GatePolicy {
  readonly metadataPath: string;
  readonly authorizationServers: readonly AuthorizationServer[];
  readonly scopesSupported: readonly string[];
  /** Header name as configured (for clearing) and lower-cased (for lookup in Kong's header map). */
  readonly tokenHeader: string;
  readonly tokenHeaderKey: string;
  readonly forwardToken: boolean;
  /** Null when `enable_acl` is false. */
  readonly acl: MethodAcl | null;
  /** dry_run: ACL denials are logged and the request proceeds. */
  readonly aclDryRun: boolean;
  /** mcp-oauth2-list-filter runs on the route: hand it what the token may list. */
  readonly filterLists: boolean;
  readonly identityHeaders: readonly IdentityHeader[];
  /** Null when `consumer_claim` is empty: Kong consumers are left alone. */
  readonly consumerMapping: ConsumerMapping | null;
  /** `log_decisions`: the decision goes into Kong's log serializer under `mcp_oauth2`. */
  readonly logDecisions: boolean;
  readonly resource?: string;
  /** Origin of `resource`, used instead of Kong's forwarded headers when the resource is configured. */
  readonly resourceOrigin?: string;
  readonly resourceName?: string;
  readonly maxBodySize: number;
  readonly runOnPreflight: boolean;
  readonly tokenCacheTtlSeconds: number;
  readonly tokenCacheSize: number;
  /** How long an introspection's "not active" answer is remembered per token. */
  readonly introspectionNegativeCacheTtlSeconds: number;
  readonly verification: VerificationPolicy;
  /** Identifies the verification settings: cached verdicts are only reused under the same ones. */
  readonly verificationFingerprint: string;
}

type RawRecord = Record<string, unknown>;

/** Kong sends unset optional fields as JSON null. */
function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}

function readString(record: RawRecord, key: string, path: string, fallback?: string): string {
  const value = record[key];
  if (isAbsent(value)) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(path, "is required");
  }
  if (typeof value !== "string" || value.length === 0) throw new ConfigError(path, "must be a non-empty string");
  return value;
}

function readOptionalString(record: RawRecord, key: string, path: string): string | undefined {
  return isAbsent(record[key]) ? undefined : readString(record, key, path);
}

/** A top-level boolean field, its default from CONFIG_DEFAULTS. */
function readBoolean(record: RawRecord, key: BooleanField): boolean {
  const value = record[key];
  if (isAbsent(value)) return CONFIG_DEFAULTS[key];
  if (typeof value !== "boolean") throw new ConfigError(key, "must be a boolean");
  return value;
}

/** A top-level numeric field, its default from CONFIG_DEFAULTS and its range from CONFIG_BOUNDS. */
function readNumber(record: RawRecord, key: NumericField): number {
  const value = record[key];
  if (isAbsent(value)) return CONFIG_DEFAULTS[key];
  const [min, max] = CONFIG_BOUNDS[key];
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(key, `must be a number between ${min} and ${max}`);
  }
  return value;
}

/** Kong's JSON encoder may send an empty array as `{}`; both mean "no elements". */
function readArray(record: RawRecord, key: string, path: string): unknown[] {
  const value = record[key];
  if (isAbsent(value)) return [];
  if (Array.isArray(value)) return value;
  if (isJsonObject(value) && Object.keys(value).length === 0) return [];
  throw new ConfigError(path, "must be an array");
}

function readStringArray(record: RawRecord, key: string, path: string): string[] {
  return readArray(record, key, path).map((element, index) => {
    if (typeof element !== "string" || element.length === 0) {
      throw new ConfigError(`${path}[${index + 1}]`, "must be a non-empty string");
    }
    return element;
  });
}

/** URLs the plugin lists or fetches are written without spaces or control characters (RFC 3986 §2). */
function checkNoWhitespace(value: string, path: string): string {
  if (/[\s\x00-\x1f\x7f]/.test(value)) throw new ConfigError(path, `'${value}' must not contain spaces or control characters`);
  return value;
}

function readHttpUrl(value: string, path: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(path, `'${value}' is not an absolute http(s) URL (the WHATWG URL parser refuses it)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConfigError(path, `'${value}' must be an http(s) URL`);
  if (value.includes("#")) throw new ConfigError(path, `'${value}' must not have a fragment (#)`);
  return url;
}

/** A URL of the server, refused with credentials (user:password@): they would be published or logged. */
function refuseCredentials(url: URL, path: string): URL {
  if (url.username !== "" || url.password !== "") throw new ConfigError(path, "must not contain credentials (user:password@)");
  return url;
}

/** RFC 9110 §5.6.2 token, for header names. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * An endpoint of the server (jwks_uri, introspection_endpoint): a relative one is appended to the
 * server url's path, an absolute one is used as it is. Credentials in the URL are refused.
 */
function resolveServerEndpoint(serverUrl: URL, endpoint: string, path: string): string {
  checkNoWhitespace(endpoint, path);
  if (endpoint.includes("#")) throw new ConfigError(path, `'${endpoint}' must not have a fragment (#)`);
  let resolved: URL;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(endpoint)) resolved = readHttpUrl(endpoint, path);
  else {
    resolved = new URL(serverUrl.href);
    resolved.pathname = resolved.pathname.replace(/\/+$/, "") + (endpoint.startsWith("/") ? endpoint : `/${endpoint}`);
    resolved.search = "";
    resolved = readHttpUrl(resolved.href, path);
  }
  return refuseCredentials(resolved, path).href;
}

/** One of `allowed`, or `fallback` when absent. */
function readChoice<Choice extends string>(record: RawRecord, key: string, path: string, allowed: readonly Choice[], fallback: Choice): Choice {
  const value = readString(record, key, path, fallback);
  if (!(allowed as readonly string[]).includes(value)) throw new ConfigError(path, `must be one of ${allowed.join(", ")}`);
  return value as Choice;
}

/**
 * The server's introspection settings, or null when `introspection` is off. With it on, the
 * endpoint and the client credentials are required; their shape is checked even while it is off.
 */
function compileIntrospectionEndpoint(entry: RawRecord, serverUrl: URL, path: string): IntrospectionEndpoint | null {
  const mode = readChoice(entry, "introspection", `${path}.introspection`, INTROSPECTION_MODES, CONFIG_DEFAULTS.introspection);
  const endpoint = readOptionalString(entry, "introspection_endpoint", `${path}.introspection_endpoint`);
  const url = endpoint === undefined ? undefined : resolveServerEndpoint(serverUrl, endpoint, `${path}.introspection_endpoint`);
  const clientId = readOptionalString(entry, "client_id", `${path}.client_id`);
  const clientSecret = readOptionalString(entry, "client_secret", `${path}.client_secret`);
  const authMethod = readChoice(entry, "client_auth_method", `${path}.client_auth_method`, CLIENT_AUTH_METHODS, CONFIG_DEFAULTS.client_auth_method);
  if (mode === "off") return null;
  const required = (value: string | undefined, field: string): string => {
    if (value === undefined) throw new ConfigError(`${path}.${field}`, `is required when introspection is ${mode}`);
    return value;
  };
  return { mode, url: required(url, "introspection_endpoint"), clientId: required(clientId, "client_id"), clientSecret: required(clientSecret, "client_secret"), authMethod };
}

/** Characters that would break a quoted-string (RFC 9110 §5.6.4) where the value is echoed in a challenge. */
function checkQuotable(value: string, path: string): string {
  if (/["\\\s\x00-\x1f\x7f]/.test(value)) throw new ConfigError(path, `'${value}' must not contain double quotes, backslashes or whitespace: it is quoted in challenges`);
  return value;
}

function compileAuthorizationServers(raw: RawRecord): AuthorizationServer[] {
  const entries = readArray(raw, "authorization_servers", "authorization_servers");
  if (entries.length === 0) throw new ConfigError("authorization_servers", "needs at least one authorization server");
  const seenIssuers = new Set<string>();
  return entries.map((entry, index) => {
    const path = `authorization_servers[${index + 1}]`;
    if (!isJsonObject(entry)) throw new ConfigError(path, "must be a record");
    const url = readString(entry, "url", `${path}.url`);
    // Clients read the url in the metadata: credentials in it would be published.
    const parsedUrl = refuseCredentials(readHttpUrl(checkNoWhitespace(url, `${path}.url`), `${path}.url`), `${path}.url`);
    const issuer = readString(entry, "issuer", `${path}.issuer`, url);
    if (seenIssuers.has(issuer)) {
      throw new ConfigError(`${path}.issuer`, `'${issuer}' is the issuer of an earlier server too: a token's iss must name one authorization server`);
    }
    seenIssuers.add(issuer);
    const audience = readString(entry, "audience", `${path}.audience`);
    const jwksUri = resolveServerEndpoint(parsedUrl, readString(entry, "jwks_uri", `${path}.jwks_uri`, CONFIG_DEFAULTS.jwks_uri), `${path}.jwks_uri`);
    return { url, issuer, audience, jwksUri, introspection: compileIntrospectionEndpoint(entry, parsedUrl, path) };
  });
}

/** Whether the server's introspection endpoint is asked about opaque tokens (`opaque`, `always`). */
function introspectsOpaqueTokens(server: AuthorizationServer): server is IntrospectingServer {
  return server.introspection?.mode === "opaque" || server.introspection?.mode === "always";
}

/** Whether the server's endpoint is asked whether its locally verified JWTs are still active (`jwt`, `always`). */
export function checksJwtRevocation(server: AuthorizationServer): server is IntrospectingServer {
  return server.introspection?.mode === "jwt" || server.introspection?.mode === "always";
}

function selectOpaqueTokenServers(servers: readonly AuthorizationServer[]): IntrospectingServer[] {
  const introspecting = servers.filter(introspectsOpaqueTokens);
  if (introspecting.length > MAX_OPAQUE_TOKEN_SERVERS) {
    throw new ConfigError("authorization_servers", `at most ${MAX_OPAQUE_TOKEN_SERVERS} servers may introspect opaque tokens (introspection opaque or always): an opaque token is offered to each in turn`);
  }
  return introspecting;
}

function compileAllowedAlgorithms(raw: RawRecord): Set<string> {
  const configured = isAbsent(raw.allowed_algorithms)
    ? [...CONFIG_DEFAULTS.allowed_algorithms]
    : readStringArray(raw, "allowed_algorithms", "allowed_algorithms");
  configured.forEach((algorithm, index) => {
    // RFC 8725 §3.1-3.2: never `none`, never a MAC with a key the client could know.
    if (!SUPPORTED_ALGORITHMS.includes(algorithm)) {
      throw new ConfigError(`allowed_algorithms[${index + 1}]`, `'${algorithm}' is not an accepted asymmetric JWS algorithm`);
    }
  });
  if (configured.length === 0) throw new ConfigError("allowed_algorithms", "needs at least one algorithm");
  return new Set(configured);
}

function compileMetadataPath(raw: RawRecord): string {
  const path = readString(raw, "metadata_path", "metadata_path", CONFIG_DEFAULTS.metadata_path);
  // RFC 3986 path characters only: the path is echoed in challenges' resource_metadata.
  if (!/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/.test(path)) throw new ConfigError("metadata_path", `'${path}' must be a URL path: '/' then URL path characters, no spaces`);
  const trimmed = path.replace(/\/+$/, "");
  if (trimmed === "") throw new ConfigError("metadata_path", "must not be '/': metadata is served at a path such as /.well-known/oauth-protected-resource");
  return trimmed;
}

function compileResource(raw: RawRecord): { resource?: string; resourceOrigin?: string } {
  const resource = readOptionalString(raw, "resource", "resource");
  if (resource === undefined) return {};
  const url = readHttpUrl(checkQuotable(resource, "resource"), "resource");
  // RFC 9728 §2: the resource identifier is compared code point by code point, so keep it as written.
  return { resource, resourceOrigin: url.origin };
}

function splitDotPath(value: string, path: string): string[] {
  const segments = value.split(".");
  if (segments.some((segment) => segment === "")) throw new ConfigError(path, `'${value}' is not a dot path of non-empty claim names (e.g. realm_access.roles)`);
  return segments;
}

/** Whether the gate must not set `header` from a claim (RESERVED_UPSTREAM_HEADERS, any case). */
function isReservedUpstreamHeader(header: string): boolean {
  const name = header.toLowerCase();
  return (
    RESERVED_UPSTREAM_HEADERS.some((reserved) => reserved.toLowerCase() === name) ||
    RESERVED_UPSTREAM_HEADER_PREFIXES.some((prefix) => name.startsWith(prefix.toLowerCase()))
  );
}

function readDotPath(record: RawRecord, key: string, path: string, fallback?: string): string[] {
  return splitDotPath(readString(record, key, path, fallback), path);
}

function compileIdentityHeaders(raw: RawRecord, tokenHeader: string): IdentityHeader[] {
  const seen = new Set<string>();
  return readArray(raw, "upstream_headers", "upstream_headers").map((entry, index) => {
    const path = `upstream_headers[${index + 1}]`;
    if (!isJsonObject(entry)) throw new ConfigError(path, "must be a record");
    const header = readString(entry, "header", `${path}.header`);
    if (!HEADER_NAME.test(header)) throw new ConfigError(`${path}.header`, `'${header}' is not a header name (RFC 9110 token: no spaces or colons)`);
    if (isReservedUpstreamHeader(header)) {
      throw new ConfigError(
        `${path}.header`,
        `'${header}' is reserved: identity headers must not be ${[...RESERVED_UPSTREAM_HEADERS, ...RESERVED_UPSTREAM_HEADER_PREFIXES.map((prefix) => `${prefix}*`)].join(", ")}`,
      );
    }
    if (header.toLowerCase() === tokenHeader.toLowerCase()) throw new ConfigError(`${path}.header`, `'${header}' is header_name, which carries the token`);
    if (seen.has(header.toLowerCase())) throw new ConfigError(`${path}.header`, `'${header}' is listed twice: each header carries one claim`);
    seen.add(header.toLowerCase());
    return { header, claimPath: readDotPath(entry, "claim", `${path}.claim`) };
  });
}

function fingerprintVerification(servers: readonly AuthorizationServer[], verification: Omit<VerificationPolicy, "issuers">, cacheTtl: number): string {
  const material = JSON.stringify([
    // The client secret is left out: it changes who may ask, not what an answer means.
    servers.map(({ issuer, audience, jwksUri, introspection }) => [issuer, audience, jwksUri, introspection && [introspection.mode, introspection.url, introspection.clientId, introspection.authMethod]]),
    [...verification.allowedAlgorithms].sort(),
    verification.clockSkewSeconds,
    verification.aclClaimPath,
    verification.keycloakCompat,
    verification.identityClaims,
    verification.consumerClaims,
    cacheTtl,
  ]);
  return createHash("sha256").update(material).digest("base64url");
}

function compileConsumerMapping(raw: RawRecord): ConsumerMapping | null {
  const claims = readStringArray(raw, "consumer_claim", "consumer_claim").map((name, index) => ({ name, path: splitDotPath(name, `consumer_claim[${index + 1}]`) }));
  const lookupFields = isAbsent(raw.consumer_by) ? [...CONFIG_DEFAULTS.consumer_by] : readStringArray(raw, "consumer_by", "consumer_by");
  lookupFields.forEach((field, index) => {
    if (!(CONSUMER_LOOKUP_FIELDS as readonly string[]).includes(field)) {
      const why = field === "custom_id" ? ": Kong 3.9 offers external plugins no lookup by custom_id" : "";
      throw new ConfigError(`consumer_by[${index + 1}]`, `must be one of ${CONSUMER_LOOKUP_FIELDS.join(", ")}${why}`);
    }
  });
  if (lookupFields.length === 0) throw new ConfigError("consumer_by", "needs at least one of username, id");
  const anonymous = readOptionalString(raw, "anonymous", "anonymous");
  if (claims.length === 0) return null;
  const mapping = { claims, byUsername: lookupFields.includes("username"), byId: lookupFields.includes("id"), optional: readBoolean(raw, "consumer_optional") };
  return anonymous === undefined ? mapping : { ...mapping, anonymous };
}

/**
 * Turns Kong's plugin config (defaults filled by Kong, extra `__*`/`route_id` keys ignored) into
 * the gate's policy, checking what Kong's schema cannot express. Throws ConfigError.
 */
export function compileGatePolicy(raw: unknown): GatePolicy {
  if (!isJsonObject(raw)) throw new ConfigError("config", "must be a record");
  const authorizationServers = compileAuthorizationServers(raw);
  const scopesSupported = readStringArray(raw, "scopes_supported", "scopes_supported").map((scope, index) =>
    checkScopeToken(scope, `scopes_supported[${index + 1}]`),
  );
  const tokenHeader = readString(raw, "header_name", "header_name", CONFIG_DEFAULTS.header_name);
  if (!HEADER_NAME.test(tokenHeader)) throw new ConfigError("header_name", `'${tokenHeader}' is not a header name (RFC 9110 token: no spaces or colons)`);
  const aclClaimPath = readDotPath(raw, "acl_claim", "acl_claim", CONFIG_DEFAULTS.acl_claim);
  // Checked even while the ACL is off, so that turning it on cannot reveal a broken mapping.
  const sessionMethods = isAbsent(raw.session_methods) ? CONFIG_DEFAULTS.session_methods : readArray(raw, "session_methods", "session_methods");
  const acl = compileMethodAcl(readArray(raw, "scope_method_mapping", "scope_method_mapping"), readArray(raw, "scope_hierarchy", "scope_hierarchy"), sessionMethods);
  const aclMode = readChoice(raw, "acl_mode", "acl_mode", ACL_MODES, CONFIG_DEFAULTS.acl_mode);
  const identityHeaders = compileIdentityHeaders(raw, tokenHeader);
  const consumerMapping = compileConsumerMapping(raw);
  const tokenCacheTtlSeconds = readNumber(raw, "token_cache_ttl");
  const verificationSettings = {
    allowedAlgorithms: compileAllowedAlgorithms(raw),
    clockSkewSeconds: readNumber(raw, "clock_skew"),
    aclClaimPath,
    keycloakCompat: readBoolean(raw, "keycloak_compat"),
    identityClaims: identityHeaders.map((identityHeader) => identityHeader.claimPath),
    consumerClaims: consumerMapping?.claims.map((claim) => claim.path) ?? [],
    httpTimeoutMs: readNumber(raw, "http_timeout"),
    jwksRefetchCooldownMs: 1000 * readNumber(raw, "jwks_refetch_cooldown"),
    opaqueTokenServers: selectOpaqueTokenServers(authorizationServers),
  };
  return {
    metadataPath: compileMetadataPath(raw),
    authorizationServers,
    scopesSupported,
    tokenHeader,
    tokenHeaderKey: tokenHeader.toLowerCase(),
    forwardToken: readBoolean(raw, "forward_authorization_header"),
    acl: readBoolean(raw, "enable_acl") ? acl : null,
    aclDryRun: aclMode === "dry_run",
    filterLists: readBoolean(raw, "filter_lists"),
    identityHeaders,
    consumerMapping,
    logDecisions: readBoolean(raw, "log_decisions"),
    ...compileResource(raw),
    resourceName: readOptionalString(raw, "resource_name", "resource_name"),
    maxBodySize: readNumber(raw, "max_body_size"),
    runOnPreflight: readBoolean(raw, "run_on_preflight"),
    tokenCacheTtlSeconds,
    tokenCacheSize: readNumber(raw, "token_cache_size"),
    introspectionNegativeCacheTtlSeconds: readNumber(raw, "introspection_negative_cache_ttl"),
    verification: {
      issuers: new Map(authorizationServers.map((server) => [server.issuer, server])),
      ...verificationSettings,
    },
    verificationFingerprint: fingerprintVerification(authorizationServers, verificationSettings, tokenCacheTtlSeconds),
  };
}
