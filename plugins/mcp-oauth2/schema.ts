import { ACL_MODES, CONFIG_BOUNDS, CONFIG_DEFAULTS } from "./core/gate-config";
import { SUPPORTED_ALGORITHMS } from "./core/jws-signature";

/**
 * Kong plugin schema, in the shape kong-pdk dumps (the plugin server wraps it as the `config`
 * record). Only attributes Kong 3.9's metaschema accepts for external plugins: type, required,
 * default, description (10-500 characters), elements, fields, one_of, between, len_min.
 */
interface KongFieldAttributes {
  type: "string" | "number" | "integer" | "boolean" | "array" | "record";
  description: string;
  required?: boolean;
  default?: string | number | boolean | readonly string[] | readonly never[];
  one_of?: readonly string[];
  between?: readonly [number, number];
  len_min?: number;
  elements?: KongFieldAttributes;
  fields?: readonly KongField[];
}

type KongField = Readonly<Record<string, KongFieldAttributes>>;

const authorizationServerFields: readonly KongField[] = [
  { url: { type: "string", required: true, description: "Authorization server URL listed in the protected resource metadata; clients discover its metadata from it. For Keycloak: `https://<host>/realms/<realm>`." } },
  { issuer: { type: "string", required: false, description: "Issuer identifier compared exactly with the token's iss claim. Defaults to the url. Keycloak's issuer follows the hostname tokens were requested through." } },
  { audience: { type: "string", required: true, description: "Audience the token's aud claim must contain for this server, usually the public MCP URL (Keycloak: an Audience mapper on the client scope)." } },
  { jwks_uri: { type: "string", required: true, default: CONFIG_DEFAULTS.jwks_uri, description: "JWKS location: a path appended to the url, or an absolute URL used as is. Keycloak: /protocol/openid-connect/certs." } },
];

const scopeMappingFields: readonly KongField[] = [
  { scope: { type: "string", required: true, description: "Scope (or role, per acl_claim) that grants the methods below. Permissions of several scopes add up." } },
  {
    methods: {
      type: "array",
      required: true,
      len_min: 1,
      elements: { type: "string", description: "A JSON-RPC method pattern: `tools/list`, `notifications/*`, `*`, or per item `tools/call:<glob>`, `resources/read:<glob>`, `prompts/get:<glob>`." },
      description: "JSON-RPC methods this scope allows: exact (`tools/list`), prefix (`notifications/*`), everything (`*`), or items by glob (`tools/call:weather_*`, `resources/read:docs://*`).",
    },
  },
];

const scopeHierarchyFields: readonly KongField[] = [
  { scope: { type: "string", required: true, description: "The broader scope, e.g. mcp:admin." } },
  {
    implies: {
      type: "array",
      required: true,
      len_min: 1,
      elements: { type: "string", description: "A narrower scope the broader one includes." },
      description: "Scopes the broader scope includes: a token holding it is allowed wherever these would be (transitively).",
    },
  },
];

const upstreamHeaderFields: readonly KongField[] = [
  { header: { type: "string", required: true, description: "Request header sent to the upstream, e.g. X-MCP-Subject." } },
  { claim: { type: "string", required: true, description: "Token claim whose value the header carries; dot paths work, e.g. sub or realm_access.roles." } },
];

export const schema: readonly KongField[] = [
  { metadata_path: { type: "string", required: true, default: CONFIG_DEFAULTS.metadata_path, description: "Path of the OAuth 2.0 protected resource metadata (RFC 9728). Served at this path and at this path followed by the resource path, e.g. /.well-known/oauth-protected-resource/mcp." } },
  {
    authorization_servers: {
      type: "array",
      required: true,
      len_min: 1,
      elements: { type: "record", description: "One trusted authorization server: its URL, issuer, audience and JWKS.", fields: authorizationServerFields },
      description: "Authorization servers whose tokens are accepted. A token is checked only against the server whose issuer equals its iss claim.",
    },
  },
  { scopes_supported: { type: "array", required: true, default: [], elements: { type: "string", description: "An OAuth scope clients may request." }, description: "Scopes advertised in the metadata and asked for in 401 challenges (scope parameter). Empty: not advertised." } },
  { header_name: { type: "string", required: true, default: CONFIG_DEFAULTS.header_name, description: "Request header carrying `Bearer <token>`. It is removed before proxying unless forward_authorization_header is on." } },
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
  { acl_claim: { type: "string", required: true, default: CONFIG_DEFAULTS.acl_claim, description: "Token claim holding the granted scopes: space-delimited string or array. Dot paths work, e.g. realm_access.roles or mcp_scopes." } },
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
      elements: { type: "string", description: "A JSON-RPC method pattern, as in scope_method_mapping: `ping`, `notifications/*`." },
      description: "Methods that open and keep a session, allowed with the ACL on to every token holding a scope that scope_method_mapping or scope_hierarchy names. Empty: only the mapping decides.",
    },
  },
  { filter_lists: { type: "boolean", required: true, default: CONFIG_DEFAULTS.filter_lists, description: "Turn on where mcp-oauth2-list-filter runs on the same route: tools/list, prompts/list and resources/list then show only what the token may call. Kong buffers only the responses to such lists; every other response streams." } },
  { token_cache_ttl: { type: "number", required: true, default: CONFIG_DEFAULTS.token_cache_ttl, between: CONFIG_BOUNDS.token_cache_ttl, description: "Seconds a verified token is remembered (never past its exp; exp is re-checked on every request). 0 disables the cache." } },
  { token_cache_size: { type: "integer", required: true, default: CONFIG_DEFAULTS.token_cache_size, between: CONFIG_BOUNDS.token_cache_size, description: "Maximum number of verified tokens remembered per configuration on each node (least recently used are dropped first)." } },
  { http_timeout: { type: "number", required: true, default: CONFIG_DEFAULTS.http_timeout, between: CONFIG_BOUNDS.http_timeout, description: "Milliseconds allowed for fetching a JWKS. Requests that cannot be decided without it get 503 with Retry-After." } },
  { resource: { type: "string", required: false, description: "Canonical public URL of the MCP endpoint, e.g. https://mcp.example.com/mcp. Its origin is used in metadata and challenges instead of the request's host." } },
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
];
