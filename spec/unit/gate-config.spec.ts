import { expect } from "chai";
import { ConfigError } from "../../plugins/mcp-oauth2/core/config-error";
import { ACL_MODES, compileGatePolicy, CONFIG_DEFAULTS, MAX_OPAQUE_TOKEN_SERVERS, type GatePolicy } from "../../plugins/mcp-oauth2/core/gate-config";
import { findDeniedCalls } from "../../plugins/mcp-oauth2/core/method-acl";
import { expectConfigErrorFrom } from "../support/error-assertions";

const KEYCLOAK = "https://kc.example.com/realms/mcp";
const AUDIENCE = "https://mcp.example.com/mcp";
const ALL_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

/** A config as Kong hands it over: every default filled, unset optionals null, empty arrays `{}`, bookkeeping keys. */
function kongConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    metadata_path: "/.well-known/oauth-protected-resource",
    authorization_servers: [
      {
        url: KEYCLOAK,
        issuer: null,
        audience: AUDIENCE,
        jwks_uri: "/.well-known/jwks.json",
        introspection: "off",
        introspection_endpoint: null,
        client_id: null,
        client_secret: null,
        client_auth_method: "client_secret_basic",
      },
    ],
    scopes_supported: {},
    header_name: "Authorization",
    forward_authorization_header: false,
    upstream_headers: {},
    enable_acl: false,
    acl_mode: "enforce",
    acl_claim: "scope",
    scope_method_mapping: {},
    scope_hierarchy: {},
    session_methods: ["initialize", "ping", "notifications/initialized", "notifications/cancelled", "server/discover"],
    filter_lists: false,
    token_cache_ttl: 300,
    token_cache_size: 10000,
    http_timeout: 10000,
    resource: null,
    resource_name: null,
    allowed_algorithms: ALL_ALGORITHMS,
    clock_skew: 30,
    keycloak_compat: false,
    max_body_size: 1048576,
    run_on_preflight: true,
    jwks_refetch_cooldown: 10,
    consumer_claim: {},
    consumer_by: ["username"],
    consumer_optional: false,
    anonymous: null,
    log_decisions: false,
    introspection_negative_cache_ttl: 30,
    __key__: "plugins:7a1b:::::",
    __seq__: 3,
    __plugin_id: "7a1b",
    route_id: "r-1",
    ...overrides,
  };
}

function compileServer(server: Record<string, unknown>): GatePolicy["authorizationServers"][number] {
  return compileGatePolicy(kongConfig({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, ...server }] })).authorizationServers[0];
}

function expectConfigError(raw: unknown, path: string, problem: string): void {
  expectConfigErrorFrom(() => compileGatePolicy(raw), path, problem);
}

describe("gate-config", () => {
  describe("defaults", () => {
    it("compiles Kong's filled-in config (nulls, {} for empty arrays, bookkeeping keys ignored)", () => {
      const { verificationFingerprint, ...policy } = compileGatePolicy(kongConfig());
      const server = { url: KEYCLOAK, issuer: KEYCLOAK, audience: AUDIENCE, jwksUri: `${KEYCLOAK}/.well-known/jwks.json`, introspection: null };
      expect(policy).to.deep.equal({
        metadataPath: "/.well-known/oauth-protected-resource",
        authorizationServers: [server],
        scopesSupported: [],
        tokenHeader: "Authorization",
        tokenHeaderKey: "authorization",
        forwardToken: false,
        acl: null,
        aclDryRun: false,
        filterLists: false,
        identityHeaders: [],
        consumerMapping: null,
        logDecisions: false,
        resourceName: undefined,
        maxBodySize: 1048576,
        runOnPreflight: true,
        tokenCacheTtlSeconds: 300,
        tokenCacheSize: 10000,
        introspectionNegativeCacheTtlSeconds: 30,
        verification: {
          issuers: new Map([[KEYCLOAK, server]]),
          allowedAlgorithms: new Set(ALL_ALGORITHMS),
          clockSkewSeconds: 30,
          aclClaimPath: ["scope"],
          keycloakCompat: false,
          identityClaims: [],
          consumerClaims: [],
          httpTimeoutMs: 10000,
          jwksRefetchCooldownMs: 10000,
          opaqueTokenServers: [],
        },
      });
      expect(verificationFingerprint).to.match(/^[A-Za-z0-9_-]{43}$/);
    });

    it("fills the same defaults as Kong when fields are absent", () => {
      expect(compileGatePolicy({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE }] })).to.deep.equal(compileGatePolicy(kongConfig()));
    });

    it("shares its defaults with the schema's", () => {
      expect(CONFIG_DEFAULTS.allowed_algorithms).to.deep.equal(ALL_ALGORITHMS);
      expect(CONFIG_DEFAULTS.metadata_path).to.equal("/.well-known/oauth-protected-resource");
      expect(CONFIG_DEFAULTS.jwks_uri).to.equal("/.well-known/jwks.json");
      expect([CONFIG_DEFAULTS.acl_mode, CONFIG_DEFAULTS.keycloak_compat]).to.deep.equal(["enforce", false]);
      expect(ACL_MODES).to.deep.equal(["enforce", "dry_run"]);
      expect([CONFIG_DEFAULTS.introspection, CONFIG_DEFAULTS.client_auth_method, CONFIG_DEFAULTS.introspection_negative_cache_ttl]).to.deep.equal(["off", "client_secret_basic", 30]);
    });

    it("refuses a config that is not a record", () => {
      for (const raw of [null, [], "config"]) expectConfigError(raw, "config", "must be a record");
    });

    it("names the field of a value of the wrong type, as Kong's Admin API would", () => {
      const server = (overrides: Record<string, unknown>) => kongConfig({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, ...overrides }] });
      const nonEmpty = "must be a non-empty string";
      expectConfigError(server({ issuer: "" }), "authorization_servers[1].issuer", nonEmpty);
      expectConfigError(server({ jwks_uri: 7 }), "authorization_servers[1].jwks_uri", nonEmpty);
      expectConfigError(server({ introspection_endpoint: "" }), "authorization_servers[1].introspection_endpoint", nonEmpty);
      expectConfigError(server({ client_id: 7 }), "authorization_servers[1].client_id", nonEmpty);
      for (const field of ["metadata_path", "header_name", "anonymous", "resource_name"]) expectConfigError(kongConfig({ [field]: "" }), field, nonEmpty);
      expectConfigError(kongConfig({ allowed_algorithms: ["RS256", 7] }), "allowed_algorithms[2]", nonEmpty);
      expectConfigError(kongConfig({ consumer_by: ["username", 7] }), "consumer_by[2]", nonEmpty);
      for (const field of ["allowed_algorithms", "consumer_by", "scope_method_mapping"]) expectConfigError(kongConfig({ [field]: "username" }), field, "must be an array");
    });

    it("reads {} as an empty array (Kong's encoder) but refuses a record with members where an array belongs", () => {
      expectConfigError(kongConfig({ enable_acl: true, scope_method_mapping: { "mcp:tools": ["tools/*"] } }), "scope_method_mapping", "must be an array");
      expectConfigError(kongConfig({ upstream_headers: { "X-Subject": "sub" } }), "upstream_headers", "must be an array");
    });

    it("names itself in stack traces and logs", () => {
      expect(() => compileGatePolicy(null)).to.throw(ConfigError).with.property("name", "ConfigError");
    });
  });

  describe("authorization_servers", () => {
    it("needs at least one server", () => {
      for (const servers of [undefined, null, [], {}]) {
        expectConfigError(kongConfig({ authorization_servers: servers }), "authorization_servers", "needs at least one authorization server");
      }
      expectConfigError(kongConfig({ authorization_servers: "https://kc" }), "authorization_servers", "must be an array");
    });

    it("checks each server's url and audience", () => {
      const servers = (second: Record<string, unknown>) => kongConfig({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE }, second] });
      expectConfigError(servers({ audience: AUDIENCE }), "authorization_servers[2].url", "is required");
      expectConfigError(servers({ url: "kc.example.com", audience: AUDIENCE }), "authorization_servers[2].url", "'kc.example.com' is not an absolute http(s) URL (the WHATWG URL parser refuses it)");
      expectConfigError(servers({ url: "ftp://kc.example.com", audience: AUDIENCE }), "authorization_servers[2].url", "'ftp://kc.example.com' must be an http(s) URL");
      expectConfigError(servers({ url: "https://kc.example.com/#x", audience: AUDIENCE }), "authorization_servers[2].url", "'https://kc.example.com/#x' must not have a fragment (#)");
      expectConfigError(servers({ url: "https://kc.example.com/#", audience: AUDIENCE }), "authorization_servers[2].url", "'https://kc.example.com/#' must not have a fragment (#)");
      for (const url of ["https://kc.example.com/realms/my realm", "https://kc.example.com/\tx", " https://kc.example.com"]) {
        expectConfigError(servers({ url, audience: AUDIENCE }), "authorization_servers[2].url", `'${url}' must not contain spaces or control characters`);
      }
      expectConfigError(servers({ url: "https://other.example.com" }), "authorization_servers[2].audience", "is required");
      expectConfigError(servers({ url: "https://other.example.com", audience: "" }), "authorization_servers[2].audience", "must be a non-empty string");
      expectConfigError(kongConfig({ authorization_servers: [null] }), "authorization_servers[1]", "must be a record");
    });

    it("defaults the issuer to the url and keeps a configured one as written", () => {
      expect(compileServer({ issuer: null }).issuer).to.equal(KEYCLOAK);
      expect(compileServer({ issuer: "https://login.example.com/realms/mcp/" }).issuer).to.equal("https://login.example.com/realms/mcp/");
    });

    it("refuses an issuer configured twice, also when one is the default", () => {
      expectConfigError(
        kongConfig({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE }, { url: "https://kc2.example.com", issuer: KEYCLOAK, audience: AUDIENCE }] }),
        "authorization_servers[2].issuer",
        `'${KEYCLOAK}' is the issuer of an earlier server too: a token's iss must name one authorization server`,
      );
    });

    it("indexes servers by issuer", () => {
      const policy = compileGatePolicy(kongConfig({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE }, { url: "https://kc2.example.com", issuer: "urn:kc2", audience: "urn:mcp" }] }));
      expect([...policy.verification.issuers.keys()]).to.deep.equal([KEYCLOAK, "urn:kc2"]);
      expect(policy.verification.issuers.get("urn:kc2")).to.equal(policy.authorizationServers[1]);
    });

    it("appends a relative jwks_uri to the url and uses an absolute one as it is", () => {
      expect(compileServer({ jwks_uri: "/protocol/openid-connect/certs" }).jwksUri).to.equal(`${KEYCLOAK}/protocol/openid-connect/certs`);
      expect(compileServer({ jwks_uri: "protocol/openid-connect/certs" }).jwksUri).to.equal(`${KEYCLOAK}/protocol/openid-connect/certs`);
      expect(compileServer({ url: `${KEYCLOAK}/`, jwks_uri: "/certs" }).jwksUri).to.equal(`${KEYCLOAK}/certs`);
      expect(compileServer({ url: `${KEYCLOAK}///`, jwks_uri: "certs" }).jwksUri).to.equal(`${KEYCLOAK}/certs`);
      expect(compileServer({ jwks_uri: null }).jwksUri).to.equal(`${KEYCLOAK}/.well-known/jwks.json`);
      expect(compileServer({ jwks_uri: "https://keys.example.com/jwks.json" }).jwksUri).to.equal("https://keys.example.com/jwks.json");
      expect(compileServer({ jwks_uri: "HTTP://Keys.Example.com:8080/jwks" }).jwksUri).to.equal("http://keys.example.com:8080/jwks");
      expect(compileServer({ jwks_uri: "//evil.example.com/jwks" }).jwksUri).to.equal(`${KEYCLOAK}//evil.example.com/jwks`);
      const thrown = expect(() => compileServer({ jwks_uri: "https://" })).to.throw(ConfigError);
      thrown.with.property("path", "authorization_servers[1].jwks_uri");
    });

    it("drops the url's query from a relative jwks_uri and keeps an absolute one's", () => {
      expect(compileServer({ url: `${KEYCLOAK}?tenant=1`, jwks_uri: "/certs" }).jwksUri).to.equal(`${KEYCLOAK}/certs`);
      expect(compileServer({ jwks_uri: "https://keys.example.com/jwks?tenant=1" }).jwksUri).to.equal("https://keys.example.com/jwks?tenant=1");
    });

    it("treats any scheme: prefix as absolute and refuses it unless http(s), without a fragment", () => {
      const jwksPath = "authorization_servers[1].jwks_uri";
      for (const jwksUri of ["localhost:8080/jwks", "file:///etc/jwks.json", "urn:jwks", "javascript:alert(1)"]) {
        expectConfigError(kongConfig({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, jwks_uri: jwksUri }] }), jwksPath, `'${jwksUri}' must be an http(s) URL`);
      }
      for (const jwksUri of ["https://keys.example.com/jwks#k", "/certs#k"]) {
        expectConfigError(kongConfig({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, jwks_uri: jwksUri }] }), jwksPath, `'${jwksUri}' must not have a fragment (#)`);
      }
      expectConfigError(kongConfig({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, jwks_uri: "/protocol/openid-connect/ certs" }] }), jwksPath, "'/protocol/openid-connect/ certs' must not contain spaces or control characters");
    });
  });

  describe("introspection (RFC 7662)", () => {
    const introspecting = { introspection: "opaque", introspection_endpoint: "/protocol/openid-connect/token/introspect", client_id: "mcp-gateway", client_secret: "s3cret" };
    const serverPath = "authorization_servers[1]";

    it("is off by default: no endpoint, nothing to introspect with, whatever else is filled in", () => {
      expect(compileServer({}).introspection).to.equal(null);
      expect(compileServer({ ...introspecting, introspection: "off" }).introspection).to.equal(null);
      expect(compileGatePolicy(kongConfig()).verification.opaqueTokenServers).to.deep.equal([]);
    });

    it("resolves the endpoint like jwks_uri and keeps the client, its secret and its authentication method", () => {
      expect(compileServer(introspecting).introspection).to.deep.equal({
        mode: "opaque",
        url: `${KEYCLOAK}/protocol/openid-connect/token/introspect`,
        clientId: "mcp-gateway",
        clientSecret: "s3cret",
        authMethod: "client_secret_basic",
      });
      const absolute = compileServer({ ...introspecting, introspection: "always", introspection_endpoint: "http://keycloak:8080/realms/mcp/introspect", client_auth_method: "client_secret_post" });
      expect(absolute.introspection).to.deep.include({ mode: "always", url: "http://keycloak:8080/realms/mcp/introspect", authMethod: "client_secret_post" });
    });

    it("lists the servers an opaque token may go to (opaque, always) in configured order, never one with jwt", () => {
      const policy = compileGatePolicy(
        kongConfig({
          authorization_servers: [
            { url: "https://a.example.com", audience: AUDIENCE, ...introspecting },
            { url: "https://b.example.com", audience: AUDIENCE },
            { url: "https://c.example.com", audience: AUDIENCE, ...introspecting, introspection: "always" },
            { url: "https://d.example.com", audience: AUDIENCE, ...introspecting, introspection: "jwt" },
          ],
        }),
      );
      expect(policy.verification.opaqueTokenServers.map((server) => server.url)).to.deep.equal(["https://a.example.com", "https://c.example.com"]);
      expect(policy.verification.issuers.get("https://d.example.com")?.introspection?.mode).to.equal("jwt");
    });

    it("needs the endpoint, client_id and client_secret unless introspection is off", () => {
      for (const mode of ["opaque", "jwt", "always"]) {
        for (const field of ["introspection_endpoint", "client_id", "client_secret"]) {
          expectConfigError(kongConfig({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, ...introspecting, introspection: mode, [field]: null }] }), `${serverPath}.${field}`, `is required when introspection is ${mode}`);
        }
      }
    });

    it("refuses unknown modes and methods, non-http(s) endpoints and credentials in any endpoint URL", () => {
      const server = (overrides: Record<string, unknown>) => kongConfig({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, ...introspecting, ...overrides }] });
      expectConfigError(server({ introspection: "revocation" }), `${serverPath}.introspection`, "must be one of off, opaque, jwt, always");
      expectConfigError(server({ client_auth_method: "private_key_jwt" }), `${serverPath}.client_auth_method`, "must be one of client_secret_basic, client_secret_post");
      expectConfigError(server({ introspection_endpoint: "ftp://kc.example.com/introspect" }), `${serverPath}.introspection_endpoint`, "'ftp://kc.example.com/introspect' must be an http(s) URL");
      expectConfigError(server({ introspection_endpoint: "https://gw:pw@kc.example.com/introspect" }), `${serverPath}.introspection_endpoint`, "must not contain credentials (user:password@)");
      expectConfigError(server({ url: "https://gw:pw@kc.example.com/realms/mcp" }), `${serverPath}.url`, "must not contain credentials (user:password@)");
      expectConfigError(server({ jwks_uri: "https://gw:pw@kc.example.com/certs" }), `${serverPath}.jwks_uri`, "must not contain credentials (user:password@)");
      // A user name alone, or a password alone, is a credential too.
      for (const credentials of ["gw@", ":pw@"]) {
        expectConfigError(server({ url: `https://${credentials}kc.example.com/realms/mcp` }), `${serverPath}.url`, "must not contain credentials (user:password@)");
        expectConfigError(server({ jwks_uri: `https://${credentials}kc.example.com/certs` }), `${serverPath}.jwks_uri`, "must not contain credentials (user:password@)");
      }
      expectConfigError(server({ client_secret: "" }), `${serverPath}.client_secret`, "must be a non-empty string");
    });

    it("never puts the client secret in an error", () => {
      for (const client_secret of [42, "", ["s3cret"]]) {
        expect(() => compileServer({ ...introspecting, client_secret })).to.throw(ConfigError).with.property("message").that.does.not.contain("s3cret");
      }
    });

    it(`allows at most ${MAX_OPAQUE_TOKEN_SERVERS} servers to introspect opaque tokens, and any number to check their JWTs only`, () => {
      const servers = (count: number, introspection = "opaque") =>
        Array.from({ length: count }, (_, index) => ({ url: `https://as-${introspection}-${index}.example.com`, audience: AUDIENCE, ...introspecting, introspection }));
      expect(compileGatePolicy(kongConfig({ authorization_servers: servers(MAX_OPAQUE_TOKEN_SERVERS) })).verification.opaqueTokenServers).to.have.length(MAX_OPAQUE_TOKEN_SERVERS);
      const withJwtOnly = compileGatePolicy(kongConfig({ authorization_servers: [...servers(MAX_OPAQUE_TOKEN_SERVERS, "always"), ...servers(MAX_OPAQUE_TOKEN_SERVERS + 1, "jwt")] }));
      expect(withJwtOnly.verification.opaqueTokenServers).to.have.length(MAX_OPAQUE_TOKEN_SERVERS);
      expectConfigError(
        kongConfig({ authorization_servers: [...servers(1, "always"), ...servers(MAX_OPAQUE_TOKEN_SERVERS)] }),
        "authorization_servers",
        `at most ${MAX_OPAQUE_TOKEN_SERVERS} servers may introspect opaque tokens (introspection opaque or always): an opaque token is offered to each in turn`,
      );
    });
  });

  describe("allowed_algorithms (RFC 8725 §3.1-3.2)", () => {
    it("keeps the configured asymmetric algorithms", () => {
      expect(compileGatePolicy(kongConfig({ allowed_algorithms: ["ES256", "RS256"] })).verification.allowedAlgorithms).to.deep.equal(new Set(["ES256", "RS256"]));
    });

    it("refuses none, HMAC and unknown algorithms", () => {
      for (const algorithm of ["none", "HS256", "HS512", "rs256", "ES256K"]) {
        expectConfigError(kongConfig({ allowed_algorithms: ["RS256", algorithm] }), "allowed_algorithms[2]", `'${algorithm}' is not an accepted asymmetric JWS algorithm`);
      }
    });

    it("refuses an empty list", () => {
      for (const algorithms of [[], {}]) expectConfigError(kongConfig({ allowed_algorithms: algorithms }), "allowed_algorithms", "needs at least one algorithm");
    });
  });

  describe("numbers", () => {
    const ranges: Array<[string, number, number]> = [
      ["token_cache_ttl", 0, 86400],
      ["token_cache_size", 0, 1000000],
      ["http_timeout", 1, 30000],
      ["clock_skew", 0, 300],
      ["max_body_size", 1, 67108864],
      ["jwks_refetch_cooldown", 1, 3600],
      ["introspection_negative_cache_ttl", 0, 3600],
    ];

    for (const [field, min, max] of ranges) {
      it(`accepts ${field} from ${min} to ${max} and refuses anything else`, () => {
        expect(() => compileGatePolicy(kongConfig({ [field]: min }))).not.to.throw();
        expect(() => compileGatePolicy(kongConfig({ [field]: max }))).not.to.throw();
        for (const value of [min - 1, max + 1, Number.NaN, Number.POSITIVE_INFINITY, String(max), true]) {
          expectConfigError(kongConfig({ [field]: value }), field, `must be a number between ${min} and ${max}`);
        }
      });
    }

    it("turns seconds into the milliseconds the verifier uses", () => {
      const policy = compileGatePolicy(kongConfig({ clock_skew: 5, http_timeout: 250, jwks_refetch_cooldown: 2, token_cache_ttl: 60, token_cache_size: 7, max_body_size: 4096 }));
      expect(policy.verification.clockSkewSeconds).to.equal(5);
      expect(policy.verification.httpTimeoutMs).to.equal(250);
      expect(policy.verification.jwksRefetchCooldownMs).to.equal(2000);
      expect([policy.tokenCacheTtlSeconds, policy.tokenCacheSize, policy.maxBodySize]).to.deep.equal([60, 7, 4096]);
    });
  });

  describe("other fields", () => {
    it("splits acl_claim into a dot path", () => {
      expect(compileGatePolicy(kongConfig({ acl_claim: "realm_access.roles" })).verification.aclClaimPath).to.deep.equal(["realm_access", "roles"]);
      expect(compileGatePolicy(kongConfig({ acl_claim: "mcp_scopes" })).verification.aclClaimPath).to.deep.equal(["mcp_scopes"]);
      for (const claim of ["a..b", ".a", "a.", "."]) expectConfigError(kongConfig({ acl_claim: claim }), "acl_claim", `'${claim}' is not a dot path of non-empty claim names (e.g. realm_access.roles)`);
      expectConfigError(kongConfig({ acl_claim: "" }), "acl_claim", "must be a non-empty string");
    });

    it("keeps the header name for clearing and its lower case for lookup", () => {
      const policy = compileGatePolicy(kongConfig({ header_name: "X-MCP-Token" }));
      expect([policy.tokenHeader, policy.tokenHeaderKey]).to.deep.equal(["X-MCP-Token", "x-mcp-token"]);
      expectConfigError(kongConfig({ header_name: "X Token" }), "header_name", "'X Token' is not a header name (RFC 9110 token: no spaces or colons)");
      expectConfigError(kongConfig({ header_name: "X-Token:" }), "header_name", "'X-Token:' is not a header name (RFC 9110 token: no spaces or colons)");
    });

    it("trims trailing slashes of metadata_path and refuses what is not a path", () => {
      expect(compileGatePolicy(kongConfig({ metadata_path: "/.well-known/oauth-protected-resource//" })).metadataPath).to.equal("/.well-known/oauth-protected-resource");
      for (const path of ["relative/path", "/a?b", "/a#b", "/a b", '/a"b', "/a\\b", "/a<b>", "/é", "/a\nb"]) {
        expectConfigError(kongConfig({ metadata_path: path }), "metadata_path", `'${path}' must be a URL path: '/' then URL path characters, no spaces`);
      }
      expect(compileGatePolicy(kongConfig({ metadata_path: "/.well-known/p%20r-m_~!$&'()*+,;=:@" })).metadataPath).to.equal("/.well-known/p%20r-m_~!$&'()*+,;=:@");
      for (const path of ["/", "//"]) {
        expectConfigError(kongConfig({ metadata_path: path }), "metadata_path", "must not be '/': metadata is served at a path such as /.well-known/oauth-protected-resource");
      }
    });

    it("checks scopes_supported as scope tokens", () => {
      expect(compileGatePolicy(kongConfig({ scopes_supported: ["mcp:tools", "mcp:resources"] })).scopesSupported).to.deep.equal(["mcp:tools", "mcp:resources"]);
      expectConfigError(kongConfig({ scopes_supported: ["mcp:tools", "mcp tools"] }), "scopes_supported[2]", '"mcp tools" is not an OAuth scope token (RFC 6749 section 3.3: printable ASCII without spaces, double quotes or backslashes)');
      expectConfigError(kongConfig({ scopes_supported: [""] }), "scopes_supported[1]", "must be a non-empty string");
    });

    it("keeps resource as written and derives its origin", () => {
      const policy = compileGatePolicy(kongConfig({ resource: "https://MCP.example.com:443/mcp/", resource_name: "Weather MCP" }));
      expect([policy.resource, policy.resourceOrigin, policy.resourceName]).to.deep.equal(["https://MCP.example.com:443/mcp/", "https://mcp.example.com", "Weather MCP"]);
      expect(compileGatePolicy(kongConfig({ resource: "http://localhost:8000/mcp" })).resourceOrigin).to.equal("http://localhost:8000");
      // Scheme, host and a non-default port only: no path, query or credentials.
      const originOf = (resource: string) => compileGatePolicy(kongConfig({ resource })).resourceOrigin;
      expect(originOf("https://mcp.example.com:443/mcp?x=1")).to.equal("https://mcp.example.com");
      expect(originOf("http://mcp.example.com:80/")).to.equal("http://mcp.example.com");
      expect(originOf("https://mcp.example.com:8443/mcp")).to.equal("https://mcp.example.com:8443");
      expect(originOf("HTTP://User:pw@MCP.Example.COM:8000/mcp")).to.equal("http://mcp.example.com:8000");
      expectConfigError(kongConfig({ resource: "/mcp" }), "resource", "'/mcp' is not an absolute http(s) URL (the WHATWG URL parser refuses it)");
      expectConfigError(kongConfig({ resource: "https://mcp.example.com/mcp#top" }), "resource", "'https://mcp.example.com/mcp#top' must not have a fragment (#)");
      expectConfigError(kongConfig({ resource: "" }), "resource", "must be a non-empty string");
    });

    it("refuses a resource that would break the quoted challenge parameters", () => {
      for (const resource of ['https://mcp.example.com/"mcp', "https://mcp.example.com/a\\b", "https://mcp.example.com/mcp ", " https://mcp.example.com/mcp", "https://mcp.example.com/a\tb"]) {
        expectConfigError(kongConfig({ resource }), "resource", `'${resource}' must not contain double quotes, backslashes or whitespace: it is quoted in challenges`);
      }
    });

    it("reads booleans and refuses other types", () => {
      const policy = compileGatePolicy(kongConfig({ forward_authorization_header: true, run_on_preflight: false }));
      expect([policy.forwardToken, policy.runOnPreflight]).to.deep.equal([true, false]);
      expectConfigError(kongConfig({ enable_acl: "true" }), "enable_acl", "must be a boolean");
      expectConfigError(kongConfig({ keycloak_compat: 1 }), "keycloak_compat", "must be a boolean");
      expectConfigError(kongConfig({ filter_lists: "yes" }), "filter_lists", "must be a boolean");
      expect(compileGatePolicy(kongConfig({ filter_lists: true })).filterLists).to.equal(true);
      expect(compileGatePolicy(kongConfig({ keycloak_compat: true })).verification.keycloakCompat).to.equal(true);
    });

    it("uses the ACL only when enable_acl is on, but checks scope_method_mapping and scope_hierarchy either way", () => {
      const mapping = [{ scope: "mcp:tools", methods: ["tools/*"] }];
      const hierarchy = [{ scope: "mcp:admin", implies: ["mcp:tools"] }];
      const acl = compileGatePolicy(kongConfig({ enable_acl: true, scope_method_mapping: mapping, scope_hierarchy: hierarchy })).acl;
      expect(acl?.entries.map((entry) => entry.scope)).to.deep.equal(["mcp:tools"]);
      expect(acl?.implied).to.deep.equal(new Map([["mcp:admin", new Set(["mcp:tools"])]]));
      expect(compileGatePolicy(kongConfig({ enable_acl: true })).acl?.entries).to.deep.equal([]);
      expect(compileGatePolicy(kongConfig({ scope_method_mapping: mapping, scope_hierarchy: hierarchy })).acl).to.equal(null);
      for (const enable_acl of [true, false]) {
        expectConfigError(
          kongConfig({ enable_acl, scope_method_mapping: [{ scope: "a", methods: ["tools*"] }] }),
          "scope_method_mapping[1].methods[1]",
          "'tools*' is not a method pattern (use 'tools/list', 'notifications/*', '*', or '<method>:<glob>' for tools/call, prompts/get, resources/read, resources/subscribe, resources/unsubscribe)",
        );
        expectConfigError(kongConfig({ enable_acl, scope_hierarchy: [{ scope: "a", implies: ["b"] }, { scope: "b", implies: ["a"] }] }), "scope_hierarchy", "cycle: a -> b -> a (a scope cannot imply itself)");
        expectConfigError(kongConfig({ enable_acl, scope_hierarchy: "a" }), "scope_hierarchy", "must be an array");
      }
    });

    it("compiles session_methods as method patterns, the lifecycle by default and nothing when Kong sends none", () => {
      const token = ["mcp:tools"];
      const mapping = [{ scope: "mcp:tools", methods: ["tools/list"] }];
      const aclWith = (sessionMethods: unknown) => compileGatePolicy(kongConfig({ enable_acl: true, scope_method_mapping: mapping, session_methods: sessionMethods })).acl!;
      const lifecycle = CONFIG_DEFAULTS.session_methods.map((method) => ({ method }));
      expect(findDeniedCalls(aclWith(undefined), token, lifecycle)).to.deep.equal([]);
      expect(findDeniedCalls(aclWith(["ping", "notifications/*"]), token, [{ method: "ping" }, { method: "notifications/progress" }, { method: "initialize" }])).to.deep.equal([{ method: "initialize" }]);
      expect(findDeniedCalls(aclWith({}), token, lifecycle)).to.deep.equal(lifecycle);
      for (const enable_acl of [true, false]) {
        expectConfigError(kongConfig({ enable_acl, session_methods: ["ping", ""] }), "session_methods[2]", "must be a non-empty string");
        expectConfigError(kongConfig({ enable_acl, session_methods: "ping" }), "session_methods", "must be an array");
      }
    });

    it("reads acl_mode: enforce or dry_run", () => {
      expect(compileGatePolicy(kongConfig({ acl_mode: "dry_run" })).aclDryRun).to.equal(true);
      expect(compileGatePolicy(kongConfig({ acl_mode: "enforce" })).aclDryRun).to.equal(false);
      expect(compileGatePolicy(kongConfig({ acl_mode: null })).aclDryRun).to.equal(false);
      for (const mode of ["dry-run", "DRY_RUN", "off"]) expectConfigError(kongConfig({ acl_mode: mode }), "acl_mode", "must be one of enforce, dry_run");
      expectConfigError(kongConfig({ acl_mode: "" }), "acl_mode", "must be a non-empty string");
    });
  });

  describe("upstream_headers", () => {
    const withHeaders = (headers: unknown, overrides: Record<string, unknown> = {}) => kongConfig({ upstream_headers: headers, ...overrides });

    it("keeps each header name as written and its claim as a dot path, in order", () => {
      const policy = compileGatePolicy(withHeaders([{ header: "X-MCP-Subject", claim: "sub" }, { header: "x-mcp-roles", claim: "realm_access.roles" }]));
      expect(policy.identityHeaders).to.deep.equal([
        { header: "X-MCP-Subject", claimPath: ["sub"] },
        { header: "x-mcp-roles", claimPath: ["realm_access", "roles"] },
      ]);
      expect(policy.verification.identityClaims).to.deep.equal([["sub"], ["realm_access", "roles"]]);
    });

    it("refuses header names that are not RFC 9110 tokens, or used twice in any case, or the token header", () => {
      expectConfigError(withHeaders([{ header: "X Subject", claim: "sub" }]), "upstream_headers[1].header", "'X Subject' is not a header name (RFC 9110 token: no spaces or colons)");
      expectConfigError(withHeaders([{ header: "X-Subject:", claim: "sub" }]), "upstream_headers[1].header", "'X-Subject:' is not a header name (RFC 9110 token: no spaces or colons)");
      expectConfigError(
        withHeaders([{ header: "X-Subject", claim: "sub" }, { header: "x-subject", claim: "azp" }]),
        "upstream_headers[2].header",
        "'x-subject' is listed twice: each header carries one claim",
      );
      expectConfigError(withHeaders([{ header: "authorization", claim: "sub" }]), "upstream_headers[1].header", "'authorization' is header_name, which carries the token");
      expectConfigError(withHeaders([{ header: "X-Token", claim: "sub" }], { header_name: "x-token" }), "upstream_headers[1].header", "'X-Token' is header_name, which carries the token");
    });

    it("refuses, in any case, headers that frame, route or identify the request: a claim must not choose the upstream host or how it reads the body", () => {
      const reserved = "must not be Host, Content-Length, Content-Type, Content-Encoding, Transfer-Encoding, Connection, Keep-Alive, TE, Trailer, Upgrade, Expect, Mcp-Session-Id, Mcp-Method, Mcp-Name, MCP-Protocol-Version, Proxy-*";
      for (const header of ["Host", "HOST", "content-length", "Content-Type", "content-encoding", "Transfer-Encoding", "connection", "Keep-Alive", "te", "Trailer", "UPGRADE", "expect", "Proxy-Authorization", "proxy-x", "mcp-session-id", "Mcp-Method", "MCP-NAME", "mcp-protocol-version"]) {
        expectConfigError(withHeaders([{ header, claim: "sub" }]), "upstream_headers[1].header", `'${header}' is reserved: identity headers ${reserved}`);
      }
      for (const header of ["X-Host", "Hosts", "Proxy", "X-Proxy-User", "Mcp-Subject", "Content-Language"]) {
        expect(compileGatePolicy(withHeaders([{ header, claim: "sub" }])).identityHeaders, header).to.have.length(1);
      }
    });

    it("refuses entries that are not records, and missing or malformed fields", () => {
      expectConfigError(withHeaders([{ header: "X-Subject", claim: "sub" }, "X-Other"]), "upstream_headers[2]", "must be a record");
      expectConfigError(withHeaders([{ claim: "sub" }]), "upstream_headers[1].header", "is required");
      expectConfigError(withHeaders([{ header: "X-Subject" }]), "upstream_headers[1].claim", "is required");
      expectConfigError(withHeaders([{ header: "X-Subject", claim: "" }]), "upstream_headers[1].claim", "must be a non-empty string");
      expectConfigError(withHeaders([{ header: "X-Subject", claim: "realm_access..roles" }]), "upstream_headers[1].claim", "'realm_access..roles' is not a dot path of non-empty claim names (e.g. realm_access.roles)");
      expectConfigError(withHeaders("X-Subject"), "upstream_headers", "must be an array");
    });
  });

  describe("Kong consumers", () => {
    it("maps no consumer while consumer_claim is empty, whatever the other consumer fields say", () => {
      expect(compileGatePolicy(kongConfig({ consumer_by: ["id"], consumer_optional: true, anonymous: "guest" })).consumerMapping).to.equal(null);
    });

    it("keeps the claims in order as dot paths, the lookup fields, optional and anonymous", () => {
      const policy = compileGatePolicy(kongConfig({ consumer_claim: ["azp", "client_id", "ext.consumer"], consumer_by: ["id"], consumer_optional: true, anonymous: "guest" }));
      expect(policy.consumerMapping).to.deep.equal({
        claims: [
          { name: "azp", path: ["azp"] },
          { name: "client_id", path: ["client_id"] },
          { name: "ext.consumer", path: ["ext", "consumer"] },
        ],
        byUsername: false,
        byId: true,
        optional: true,
        anonymous: "guest",
      });
      expect(policy.verification.consumerClaims).to.deep.equal([["azp"], ["client_id"], ["ext", "consumer"]]);
      // By username only unless asked: consumer ids are not secret.
      expect(compileGatePolicy(kongConfig({ consumer_claim: ["sub"] })).consumerMapping).to.deep.equal({ claims: [{ name: "sub", path: ["sub"] }], byUsername: true, byId: false, optional: false });
    });

    it("refuses custom_id, saying why, other lookup fields, an empty list and broken claim paths", () => {
      expectConfigError(kongConfig({ consumer_by: ["username", "custom_id"] }), "consumer_by[2]", "must be one of username, id: Kong 3.9 offers external plugins no lookup by custom_id");
      expectConfigError(kongConfig({ consumer_by: ["email"] }), "consumer_by[1]", "must be one of username, id");
      expectConfigError(kongConfig({ consumer_by: [] }), "consumer_by", "needs at least one of username, id");
      expectConfigError(kongConfig({ consumer_claim: ["azp", "a..b"] }), "consumer_claim[2]", "'a..b' is not a dot path of non-empty claim names (e.g. realm_access.roles)");
      expectConfigError(kongConfig({ consumer_claim: [""] }), "consumer_claim[1]", "must be a non-empty string");
    });

    it("turns log_decisions on", () => {
      expect(compileGatePolicy(kongConfig({ log_decisions: true })).logDecisions).to.equal(true);
    });
  });

  describe("verificationFingerprint", () => {
    const fingerprintOf = (overrides: Record<string, unknown>) => compileGatePolicy(kongConfig(overrides)).verificationFingerprint;
    const base = fingerprintOf({});

    it("is equal for equal verification settings", () => {
      expect(fingerprintOf({})).to.equal(base);
      expect(fingerprintOf({ allowed_algorithms: [...ALL_ALGORITHMS].reverse() })).to.equal(base);
      expect(fingerprintOf({ authorization_servers: [{ url: KEYCLOAK, issuer: KEYCLOAK, audience: AUDIENCE, jwks_uri: `${KEYCLOAK}/.well-known/jwks.json` }] })).to.equal(base);
    });

    it("ignores settings that do not change a verdict", () => {
      for (const overrides of [
        { enable_acl: true, scope_method_mapping: [{ scope: "mcp:tools", methods: ["tools/*"] }] },
        { scopes_supported: ["mcp:tools"] },
        { resource: AUDIENCE, resource_name: "MCP" },
        { header_name: "X-Token", forward_authorization_header: true },
        { http_timeout: 500, jwks_refetch_cooldown: 1, max_body_size: 10, run_on_preflight: false },
        { acl_mode: "dry_run", scope_hierarchy: [{ scope: "mcp:admin", implies: ["mcp:tools"] }] },
        { consumer_by: ["id"], consumer_optional: true, anonymous: "guest", log_decisions: true },
        { introspection_negative_cache_ttl: 5 },
        // Off: the introspection fields are not used.
        { authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, introspection_endpoint: "/introspect", client_id: "gw", client_secret: "s" }] },
      ]) {
        expect(fingerprintOf(overrides), JSON.stringify(overrides)).to.equal(base);
      }
    });

    it("changes with upstream_headers claims (kept with the verdict), not with their header names", () => {
      const subject = fingerprintOf({ upstream_headers: [{ header: "X-Subject", claim: "sub" }] });
      expect(fingerprintOf({ upstream_headers: [{ header: "X-User", claim: "sub" }] })).to.equal(subject);
      expect(new Set([base, subject, fingerprintOf({ upstream_headers: [{ header: "X-Subject", claim: "azp" }] })]).size).to.equal(3);
    });

    it("does not change with the introspection client's secret", () => {
      const withSecret = (client_secret: string) =>
        fingerprintOf({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, introspection: "opaque", introspection_endpoint: "/introspect", client_id: "gw", client_secret }] });
      expect(withSecret("old")).to.equal(withSecret("new"));
    });

    it("changes with consumer_claim (its values are kept with the verdict)", () => {
      const variants = [{ consumer_claim: ["azp"] }, { consumer_claim: ["azp", "sub"] }, { consumer_claim: ["sub", "azp"] }];
      expect(new Set([base, ...variants.map(fingerprintOf)]).size).to.equal(variants.length + 1);
    });

    it("changes with the issuer, audience, JWKS, algorithms, skew, ACL claim, Keycloak preset, cache TTL and introspection", () => {
      const variants = [
        { authorization_servers: [{ url: KEYCLOAK, issuer: `${KEYCLOAK}/`, audience: AUDIENCE }] },
        { authorization_servers: [{ url: KEYCLOAK, audience: `${AUDIENCE}/` }] },
        { authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, jwks_uri: "/certs" }] },
        { allowed_algorithms: ["RS256"] },
        { clock_skew: 31 },
        { acl_claim: "realm_access.roles" },
        { keycloak_compat: true },
        { token_cache_ttl: 301 },
        ...["opaque", "always"].map((introspection) => ({ authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, introspection, introspection_endpoint: "/introspect", client_id: "gw", client_secret: "s" }] })),
        { authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, introspection: "opaque", introspection_endpoint: "/introspect2", client_id: "gw", client_secret: "s" }] },
        { authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, introspection: "opaque", introspection_endpoint: "/introspect", client_id: "gw2", client_secret: "s" }] },
        { authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, introspection: "opaque", introspection_endpoint: "/introspect", client_id: "gw", client_secret: "s", client_auth_method: "client_secret_post" }] },
      ];
      const fingerprints = variants.map(fingerprintOf);
      expect(new Set([base, ...fingerprints]).size).to.equal(variants.length + 1);
    });
  });
});
