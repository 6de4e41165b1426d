import {
  ACL_MODES,
  CLIENT_AUTH_METHODS,
  CONFIG_BOUNDS,
  CONFIG_DEFAULTS,
  CONSUMER_LOOKUP_FIELDS,
  INTROSPECTION_MODES,
  MAX_OPAQUE_TOKEN_SERVERS,
  RESERVED_UPSTREAM_HEADER_PREFIXES,
  RESERVED_UPSTREAM_HEADERS,
} from "./core/gate-config";
import { ITEM_MEMBER } from "./core/json-rpc-calls";
import { SUPPORTED_ALGORITHMS } from "./core/jws-signature";

/**
 * Kong plugin schema, in the shape kong-pdk dumps (the plugin server wraps it as the `config`
 * record). Only attributes Kong 3.9's metaschema accepts for external plugins: type, required,
 * default, description (10-500 characters), elements, fields, one_of, between, len_min, and the
 * string validators match_all and match_none (lists of `{pattern, err}`) and match_any
 * (`{patterns, err}`), whose patterns are Lua patterns, not regular expressions. With them Kong
 * refuses at save time every mistake a pattern can express, with the `err` shown; what no pattern
 * can express (duplicates, cycles, references between fields, what the WHATWG URL parser refuses)
 * the plugin refuses when it compiles the configuration (core/gate-config.ts), answering 500.
 * Secrets carry Kong's markers `referenceable` (the value may be a vault reference,
 * `{vault://...}`, resolved by Kong before the plugin sees it) and `encrypted` (Kong Manager masks
 * it; Kong Enterprise encrypts it at rest, Kong OSS accepts and ignores it).
 */
interface PatternRule {
  pattern: string;
  err: string;
}

interface KongFieldAttributes {
  type: "string" | "number" | "integer" | "boolean" | "array" | "record";
  description: string;
  required?: boolean;
  referenceable?: boolean;
  encrypted?: boolean;
  default?: string | number | boolean | readonly string[] | readonly never[];
  one_of?: readonly string[];
  between?: readonly [number, number];
  len_min?: number;
  /** Kong refuses a value one of these patterns matches, with that rule's err. */
  match_none?: readonly PatternRule[];
  /** Kong refuses a value one of these patterns does not match, with that rule's err. */
  match_all?: readonly PatternRule[];
  /** Kong refuses a value none of these patterns matches, with err. */
  match_any?: { readonly patterns: readonly string[]; readonly err: string };
  elements?: KongFieldAttributes;
  fields?: readonly KongField[];
}

type KongField = Readonly<Record<string, KongFieldAttributes>>;

/** `text` as a Lua pattern of itself: magic characters escaped with `%`. */
function escapeLuaPattern(text: string): string {
  return text.replace(/[\^$()%.[\]*+\-?]/g, "%$&");
}

/** A Lua pattern for `text` in any letter case: Lua patterns have no case-insensitive flag. */
function caseInsensitiveLuaPattern(text: string): string {
  return [...text].map((character) => (/[A-Za-z]/.test(character) ? `[${character.toUpperCase()}${character.toLowerCase()}]` : escapeLuaPattern(character))).join("");
}

/** RFC 9110 §5.6.2 token: a header name. */
const HEADER_NAME_RULES: readonly PatternRule[] = [
  { pattern: "^[%w!#$%%&'*+.^_`|~%-]+$", err: "must be a header name: letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons" },
];

/** Headers a claim must not set (core/gate-config.ts RESERVED_UPSTREAM_HEADERS), in any case. */
const RESERVED_HEADER_RULES: readonly PatternRule[] = [
  ...RESERVED_UPSTREAM_HEADERS.map((name) => ({
    pattern: `^${caseInsensitiveLuaPattern(name)}$`,
    err: `must not be ${name}: identity headers cannot replace the headers that frame, route or identify the request`,
  })),
  ...RESERVED_UPSTREAM_HEADER_PREFIXES.map((prefix) => ({
    pattern: `^${caseInsensitiveLuaPattern(prefix)}`,
    err: `must not start with ${prefix}: identity headers cannot address proxies`,
  })),
];

/** A dot path of non-empty claim names. */
const CLAIM_PATH_RULES: readonly PatternRule[] = [
  { pattern: "^%.", err: "must be a dot path of non-empty claim names, e.g. realm_access.roles: it starts with a dot" },
  { pattern: "%.$", err: "must be a dot path of non-empty claim names, e.g. realm_access.roles: it ends with a dot" },
  { pattern: "%.%.", err: "must be a dot path of non-empty claim names, e.g. realm_access.roles: it has two dots in a row" },
];

/** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E (no space, quote or backslash). */
const SCOPE_RULES: readonly PatternRule[] = [
  { pattern: "^[!#-[%]^-~]+$", err: "must be an OAuth scope: printable ASCII without spaces, double quotes or backslashes (RFC 6749 section 3.3)" },
];

const HTTP_URL_PATTERN = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]";
const HTTP_URL_RULE: PatternRule = { pattern: HTTP_URL_PATTERN, err: "must be an absolute http(s) URL, e.g. https://sso.example.com/realms/mcp" };
const NO_FRAGMENT_RULE: PatternRule = { pattern: "#", err: "must not contain '#': no fragment" };
const NO_WHITESPACE_RULE: PatternRule = { pattern: "[%s%c]", err: "must not contain spaces or control characters" };

/**
 * A JSON-RPC method pattern (core/method-acl.ts): `*`, `<item method>:<glob>`, a method name
 * (segments of letters, digits and _$.- joined by single slashes) or such a name followed by `/*`.
 * match_none refuses the malformed names the character classes of match_any would let through;
 * it looks only before the first ':' so that globs may contain anything.
 */
const METHOD_PATTERN_RULES: readonly PatternRule[] = [
  { pattern: "^/", err: "must not start with '/': method names look like tools/list" },
  { pattern: "^[^:]*//", err: "must not contain '//' in the method name" },
  { pattern: "^[^:]*/$", err: "must not end with '/': write tools/* for every tools method" },
  { pattern: "^[^:]*:$", err: "needs a glob after ':', e.g. tools/call:weather_*" },
];
const METHOD_NAME_CHARACTERS = "[A-Za-z0-9_$.%-/]";
const METHOD_PATTERN_ALTERNATIVES = {
  patterns: ["^%*$", `^${METHOD_NAME_CHARACTERS}+$`, `^${METHOD_NAME_CHARACTERS}+/%*$`, ...[...ITEM_MEMBER.keys()].map((method) => `^${escapeLuaPattern(method)}:.`)],
  err: `must be a method pattern: a method (tools/list), a prefix (notifications/*), * or an item glob (tools/call:weather_*) for ${[...ITEM_MEMBER.keys()].join(", ")}`,
};

const NO_CREDENTIALS_RULE: PatternRule = { pattern: "^[A-Za-z][A-Za-z0-9+.%-]*://[^/?#]*@", err: "must not contain credentials (user:password@)" };

/** An endpoint of the server: an absolute http(s) URL, or a path (anything that does not start with a `scheme:`). */
function serverEndpointAlternatives(example: string): { patterns: readonly string[]; err: string } {
  return {
    patterns: [HTTP_URL_PATTERN, "^[^A-Za-z]", "^[A-Za-z][A-Za-z0-9+.%-]*$", "^[A-Za-z][A-Za-z0-9+.%-]*[^A-Za-z0-9+.:%-]"],
    err: `must be a path appended to the url (${example}) or an absolute http(s) URL`,
  };
}

/** RFC 3986 §3.3 path characters after a leading '/', and not the root itself. */
const METADATA_PATH_NOT_ROOT: readonly PatternRule[] = [
  { pattern: "^/+$", err: "must not be '/': serve the metadata at a path such as /.well-known/oauth-protected-resource" },
];
const METADATA_PATH_RULES: readonly PatternRule[] = [
  { pattern: "^/", err: "must start with '/'" },
  { pattern: "^/[%w%-._~!$&'()*+,;=:@/%%]*$", err: "must contain only URL path characters: letters, digits, -._~!$&'()*+,;=:@/% and no spaces" },
];

const authorizationServerFields: readonly KongField[] = [
  {
    url: {
      type: "string",
      required: true,
      match_none: [NO_FRAGMENT_RULE, NO_WHITESPACE_RULE, NO_CREDENTIALS_RULE],
      match_all: [HTTP_URL_RULE],
      description: "Authorization server URL listed in the protected resource metadata; clients discover its metadata from it. For Keycloak: `https://<host>/realms/<realm>`.",
    },
  },
  { issuer: { type: "string", required: false, description: "Issuer identifier compared exactly with the token's iss claim. Defaults to the url. Keycloak's issuer follows the hostname tokens were requested through." } },
  { audience: { type: "string", required: true, description: "Audience the token's aud claim must contain for this server, usually the public MCP URL (Keycloak: an Audience mapper on the client scope)." } },
  {
    jwks_uri: {
      type: "string",
      required: true,
      default: CONFIG_DEFAULTS.jwks_uri,
      match_none: [NO_FRAGMENT_RULE, NO_WHITESPACE_RULE, NO_CREDENTIALS_RULE],
      match_any: serverEndpointAlternatives("/protocol/openid-connect/certs"),
      description: "JWKS location: a path appended to the url, or an absolute URL used as is. Keycloak: /protocol/openid-connect/certs.",
    },
  },
  {
    introspection: {
      type: "string",
      required: true,
      default: CONFIG_DEFAULTS.introspection,
      one_of: INTROSPECTION_MODES,
      description: `Token introspection (RFC 7662) at this server. off: JWTs only, verified locally. opaque: tokens that are not JWTs are sent to the introspection endpoint. jwt: this server's JWTs, after local verification, so revoked ones are refused; no opaque token is sent. always: both. At most ${MAX_OPAQUE_TOKEN_SERVERS} servers with opaque or always; all of them must trust each other.`,
    },
  },
  {
    introspection_endpoint: {
      type: "string",
      required: false,
      match_none: [NO_FRAGMENT_RULE, NO_WHITESPACE_RULE, NO_CREDENTIALS_RULE],
      match_any: serverEndpointAlternatives("/protocol/openid-connect/token/introspect"),
      description: "Introspection endpoint: a path appended to the url, or an absolute URL used as is. Keycloak: /protocol/openid-connect/token/introspect. Required unless introspection is off.",
    },
  },
  { client_id: { type: "string", required: false, description: "Client id the gateway authenticates with at the introspection endpoint (a confidential client of this server). Required unless introspection is off." } },
  {
    client_secret: {
      type: "string",
      required: false,
      referenceable: true,
      encrypted: true,
      description: "Secret of client_id at the introspection endpoint; never logged. A vault reference such as {vault://env/mcp-introspection-secret} works. Required unless introspection is off.",
    },
  },
  { client_auth_method: { type: "string", required: true, default: CONFIG_DEFAULTS.client_auth_method, one_of: CLIENT_AUTH_METHODS, description: "How the client authenticates at the introspection endpoint: client_secret_basic (HTTP Basic) or client_secret_post (in the form body)." } },
];

const scopeMappingFields: readonly KongField[] = [
  { scope: { type: "string", required: true, match_all: SCOPE_RULES, description: "Scope (or role, per acl_claim) that grants the methods below. Permissions of several scopes add up." } },
  {
    methods: {
      type: "array",
      required: true,
      len_min: 1,
      elements: {
        type: "string",
        match_none: METHOD_PATTERN_RULES,
        match_any: METHOD_PATTERN_ALTERNATIVES,
        description: "A JSON-RPC method pattern: `tools/list`, `notifications/*`, `*`, or per item `tools/call:<glob>`, `resources/read:<glob>`, `prompts/get:<glob>`.",
      },
      description: "JSON-RPC methods this scope allows: exact (`tools/list`), prefix (`notifications/*`), everything (`*`), or items by glob (`tools/call:weather_*`, `resources/read:docs://*`).",
    },
  },
];

const scopeHierarchyFields: readonly KongField[] = [
  { scope: { type: "string", required: true, match_all: SCOPE_RULES, description: "The broader scope, e.g. mcp:admin." } },
  {
    implies: {
      type: "array",
      required: true,
      len_min: 1,
      elements: { type: "string", match_all: SCOPE_RULES, description: "A narrower scope the broader one includes." },
      description: "Scopes the broader scope includes: a token holding it is allowed wherever these would be (transitively).",
    },
  },
];

const upstreamHeaderFields: readonly KongField[] = [
  {
    header: {
      type: "string",
      required: true,
      match_none: RESERVED_HEADER_RULES,
      match_all: HEADER_NAME_RULES,
      description: "Request header sent to the upstream, e.g. X-MCP-Subject. Not one that frames or routes the request (Host, Content-Length, Content-Type, hop-by-hop and Proxy- headers), an MCP header or header_name.",
    },
  },
  { claim: { type: "string", required: true, match_none: CLAIM_PATH_RULES, description: "Token claim whose value the header carries; dot paths work, e.g. sub or realm_access.roles." } },
];

export const schema: readonly KongField[] = [
  {
    metadata_path: {
      type: "string",
      required: true,
      default: CONFIG_DEFAULTS.metadata_path,
      match_none: METADATA_PATH_NOT_ROOT,
      match_all: METADATA_PATH_RULES,
      description: "Path of the OAuth 2.0 protected resource metadata (RFC 9728). Served at this path and at this path followed by the resource path, e.g. /.well-known/oauth-protected-resource/mcp.",
    },
  },
  {
    authorization_servers: {
      type: "array",
      required: true,
      len_min: 1,
      elements: { type: "record", description: "One trusted authorization server: its URL, issuer, audience, JWKS and token introspection.", fields: authorizationServerFields },
      description: "Authorization servers whose tokens are accepted. A JWT is checked only against the server whose issuer equals its iss claim; an opaque token goes to the servers with introspection opaque or always, in this order.",
    },
  },
  {
    scopes_supported: {
      type: "array",
      required: true,
      default: [],
      elements: { type: "string", match_all: SCOPE_RULES, description: "An OAuth scope clients may request." },
      description: "Scopes advertised in the metadata and asked for in 401 challenges (scope parameter). Empty: not advertised.",
    },
  },
  {
    header_name: {
      type: "string",
      required: true,
      default: CONFIG_DEFAULTS.header_name,
      match_all: HEADER_NAME_RULES,
      description: "Request header carrying `Bearer <token>`. It is removed before proxying unless forward_authorization_header is on.",
    },
  },
  { forward_authorization_header: { type: "boolean", required: true, default: CONFIG_DEFAULTS.forward_authorization_header, description: "Pass the token header to the upstream MCP server. Off by default: the MCP specification forbids token passthrough." } },
  {
    upstream_headers: {
      type: "array",
      required: true,
      default: [],
      elements: { type: "record", description: "One identity header and the claim it carries.", fields: upstreamHeaderFields },
      description: "Verified identity passed to the upstream as headers. Client-sent headers of these names are always removed first; an absent claim leaves the header out.",
    },
  },
  { enable_acl: { type: "boolean", required: true, default: CONFIG_DEFAULTS.enable_acl, description: "Authorize each JSON-RPC call (method, tool, resource, prompt) against scope_method_mapping. Off: any valid token passes." } },
  { acl_mode: { type: "string", required: true, default: CONFIG_DEFAULTS.acl_mode, one_of: ACL_MODES, description: "enforce: ACL denials are refused with 403. dry_run: denials are only logged with the scopes they would need, and the request proceeds (tokens are still required)." } },
  {
    acl_claim: {
      type: "string",
      required: true,
      default: CONFIG_DEFAULTS.acl_claim,
      match_none: CLAIM_PATH_RULES,
      description: "Token claim holding the granted scopes: space-delimited string or array. Dot paths work, e.g. realm_access.roles or mcp_scopes.",
    },
  },
  {
    scope_method_mapping: {
      type: "array",
      required: true,
      default: [],
      elements: { type: "record", description: "A scope and the JSON-RPC methods it allows.", fields: scopeMappingFields },
      description: "Which scope allows which JSON-RPC methods when enable_acl is on. Empty with the ACL on: every request is refused.",
    },
  },
  {
    scope_hierarchy: {
      type: "array",
      required: true,
      default: [],
      elements: { type: "record", description: "A broader scope and the narrower scopes it includes.", fields: scopeHierarchyFields },
      description: "Scope hierarchy: a broader scope satisfies the ACL wherever a scope it implies would. Cycles are refused.",
    },
  },
  {
    session_methods: {
      type: "array",
      required: true,
      default: CONFIG_DEFAULTS.session_methods,
      elements: {
        type: "string",
        match_none: METHOD_PATTERN_RULES,
        match_any: METHOD_PATTERN_ALTERNATIVES,
        description: "A JSON-RPC method pattern, as in scope_method_mapping: `ping`, `notifications/*`.",
      },
      description: "Methods that open and keep a session, allowed with the ACL on to every token holding a scope that scope_method_mapping or scope_hierarchy names. Empty: only the mapping decides.",
    },
  },
  { filter_lists: { type: "boolean", required: true, default: CONFIG_DEFAULTS.filter_lists, description: "Turn on where mcp-oauth2-list-filter runs on the same route: tools/list, prompts/list and resources/list then show only what the token may call. Kong buffers only the responses to such lists; every other response streams." } },
  { token_cache_ttl: { type: "number", required: true, default: CONFIG_DEFAULTS.token_cache_ttl, between: CONFIG_BOUNDS.token_cache_ttl, description: "Seconds a verified token is remembered (never past its exp; exp is re-checked on every request). 0 disables the cache." } },
  { token_cache_size: { type: "integer", required: true, default: CONFIG_DEFAULTS.token_cache_size, between: CONFIG_BOUNDS.token_cache_size, description: "Maximum number of verified tokens remembered per configuration on each node (least recently used are dropped first)." } },
  { http_timeout: { type: "number", required: true, default: CONFIG_DEFAULTS.http_timeout, between: CONFIG_BOUNDS.http_timeout, description: "Milliseconds allowed for fetching a JWKS, or for the introspection calls about one token (shared by the servers asked). Requests that cannot be decided in time get 503 with Retry-After." } },
  {
    resource: {
      type: "string",
      required: false,
      match_none: [NO_FRAGMENT_RULE, { pattern: '["\\%s%c]', err: "must not contain double quotes, backslashes, spaces or control characters: it is quoted in challenges" }],
      match_all: [{ pattern: HTTP_URL_PATTERN, err: "must be an absolute http(s) URL, e.g. https://mcp.example.com/mcp" }],
      description: "Canonical public URL of the MCP endpoint, e.g. https://mcp.example.com/mcp. Its origin is used in metadata and challenges instead of the request's host.",
    },
  },
  { resource_name: { type: "string", required: false, description: "Human-readable name of the MCP server, shown by clients (resource_name in the metadata)." } },
  {
    allowed_algorithms: {
      type: "array",
      required: true,
      len_min: 1,
      default: CONFIG_DEFAULTS.allowed_algorithms,
      elements: { type: "string", one_of: SUPPORTED_ALGORITHMS, description: "An asymmetric JWS algorithm." },
      description: "JWS algorithms accepted for token signatures. Only asymmetric algorithms; none and HMAC are always refused.",
    },
  },
  { clock_skew: { type: "integer", required: true, default: CONFIG_DEFAULTS.clock_skew, between: CONFIG_BOUNDS.clock_skew, description: "Seconds of clock difference tolerated when checking exp, nbf and iat." } },
  { keycloak_compat: { type: "boolean", required: true, default: CONFIG_DEFAULTS.keycloak_compat, description: "Keycloak preset: accept only access tokens (payload typ Bearer), refuse tokens whose only audience is account, and count realm roles (realm_access.roles) as granted scopes." } },
  { max_body_size: { type: "integer", required: true, default: CONFIG_DEFAULTS.max_body_size, between: CONFIG_BOUNDS.max_body_size, description: "Largest JSON-RPC body in bytes the ACL reads; larger bodies get 413. Kong must be able to hand it over (client_body_buffer_size, Kong 3.8+)." } },
  { run_on_preflight: { type: "boolean", required: true, default: CONFIG_DEFAULTS.run_on_preflight, description: "Require a token on OPTIONS requests too. Turn off to let CORS preflights through without one." } },
  { jwks_refetch_cooldown: { type: "integer", required: true, default: CONFIG_DEFAULTS.jwks_refetch_cooldown, between: CONFIG_BOUNDS.jwks_refetch_cooldown, description: "Minimum seconds between two JWKS fetches triggered by unknown key ids or failures, per JWKS URL." } },
  {
    consumer_claim: {
      type: "array",
      required: true,
      default: [],
      elements: { type: "string", match_none: CLAIM_PATH_RULES, description: "A token claim (dot paths work) whose string value names a consumer, e.g. azp, client_id or sub." },
      description: "Token claims tried in order to find the request's Kong consumer, e.g. azp, client_id, sub. A match authenticates the request with Kong, so that rate-limiting, acl and log plugins see the consumer and credential. Empty: consumers are not used.",
    },
  },
  {
    consumer_by: {
      type: "array",
      required: true,
      len_min: 1,
      default: CONFIG_DEFAULTS.consumer_by,
      elements: { type: "string", one_of: CONSUMER_LOOKUP_FIELDS, description: "A consumer field: username or id." },
      description: "Consumer fields a claim value is looked up by: username and/or id (a UUID, tried first). Kong 3.9 gives external plugins no lookup by custom_id.",
    },
  },
  { consumer_optional: { type: "boolean", required: true, default: CONFIG_DEFAULTS.consumer_optional, description: "When no consumer matches: let the request through, authenticated with Kong by the token's credential alone, instead of refusing it with 401." } },
  { anonymous: { type: "string", required: false, description: "Consumer (id or username) a request is authenticated as when no consumer matches, instead of a 401. It must exist: requests are refused with 500 otherwise." } },
  { log_decisions: { type: "boolean", required: true, default: CONFIG_DEFAULTS.log_decisions, description: "Add each decision to Kong's log serializer under mcp_oauth2 for http-log, file-log and other log plugins: allowed, refused or would_refuse, the reason, subject, client, issuer, consumer, and the JSON-RPC calls with the scope that allowed each. Never the token." } },
  {
    introspection_negative_cache_ttl: {
      type: "number",
      required: true,
      default: CONFIG_DEFAULTS.introspection_negative_cache_ttl,
      between: CONFIG_BOUNDS.introspection_negative_cache_ttl,
      description: "Seconds an introspection answer of not active is remembered per token, so a repeated unknown or revoked token costs one call per period. 0: not remembered.",
    },
  },
];
