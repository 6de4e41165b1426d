import { expect } from "chai";
import { ConfigError } from "../../plugins/mcp-oauth2/core/config-error";
import { compileGatePolicy, CONFIG_DEFAULTS, type GatePolicy } from "../../plugins/mcp-oauth2/core/gate-config";

const KEYCLOAK = "https://kc.example.com/realms/mcp";
const AUDIENCE = "https://mcp.example.com/mcp";
const ALL_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

/** A config as Kong hands it over: every default filled, unset optionals null, empty arrays `{}`, bookkeeping keys. */
function kongConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    metadata_path: "/.well-known/oauth-protected-resource",
    authorization_servers: [{ url: KEYCLOAK, issuer: null, audience: AUDIENCE, jwks_uri: "/.well-known/jwks.json" }],
    scopes_supported: {},
    header_name: "Authorization",
    forward_authorization_header: false,
    enable_acl: false,
    acl_claim: "scope",
    scope_method_mapping: {},
    token_cache_ttl: 300,
    token_cache_size: 10000,
    http_timeout: 10000,
    resource: null,
    resource_name: null,
    allowed_algorithms: ALL_ALGORITHMS,
    clock_skew: 30,
    max_body_size: 1048576,
    run_on_preflight: true,
    jwks_refetch_cooldown: 10,
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
  const thrown = expect(() => compileGatePolicy(raw)).to.throw(ConfigError);
  thrown.with.property("path", path);
  thrown.with.property("message", `${path}: ${problem}`);
}

describe("gate-config", () => {
  describe("defaults", () => {
    it("compiles Kong's filled-in config (nulls, {} for empty arrays, bookkeeping keys ignored)", () => {
      const { verificationFingerprint, ...policy } = compileGatePolicy(kongConfig());
      const server = { url: KEYCLOAK, issuer: KEYCLOAK, audience: AUDIENCE, jwksUri: `${KEYCLOAK}/.well-known/jwks.json` };
      expect(policy).to.deep.equal({
        metadataPath: "/.well-known/oauth-protected-resource",
        authorizationServers: [server],
        scopesSupported: [],
        tokenHeader: "Authorization",
        tokenHeaderKey: "authorization",
        forwardToken: false,
        acl: null,
        resourceName: undefined,
        maxBodySize: 1048576,
        runOnPreflight: true,
        tokenCacheTtlSeconds: 300,
        tokenCacheSize: 10000,
        verification: {
          issuers: new Map([[KEYCLOAK, server]]),
          allowedAlgorithms: new Set(ALL_ALGORITHMS),
          clockSkewSeconds: 30,
          aclClaimPath: ["scope"],
          httpTimeoutMs: 10000,
          jwksRefetchCooldownMs: 10000,
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
    });

    it("refuses a config that is not a record", () => {
      for (const raw of [null, [], "config"]) expectConfigError(raw, "config", "must be a record");
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
      expectConfigError(servers({ url: "kc.example.com", audience: AUDIENCE }), "authorization_servers[2].url", "'kc.example.com' is not an absolute URL");
      expectConfigError(servers({ url: "ftp://kc.example.com", audience: AUDIENCE }), "authorization_servers[2].url", "must be an http(s) URL");
      expectConfigError(servers({ url: "https://kc.example.com/#x", audience: AUDIENCE }), "authorization_servers[2].url", "must not have a fragment");
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
        `'${KEYCLOAK}' is configured twice`,
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
      expect(compileServer({ jwks_uri: null }).jwksUri).to.equal(`${KEYCLOAK}/.well-known/jwks.json`);
      expect(compileServer({ jwks_uri: "https://keys.example.com/jwks.json" }).jwksUri).to.equal("https://keys.example.com/jwks.json");
      expect(compileServer({ jwks_uri: "HTTP://Keys.Example.com:8080/jwks" }).jwksUri).to.equal("http://keys.example.com:8080/jwks");
      expect(compileServer({ jwks_uri: "//evil.example.com/jwks" }).jwksUri).to.equal(`${KEYCLOAK}//evil.example.com/jwks`);
      const thrown = expect(() => compileServer({ jwks_uri: "https://" })).to.throw(ConfigError);
      thrown.with.property("path", "authorization_servers[1].jwks_uri");
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
      ["jwks_refetch_cooldown", 0, 3600],
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
      for (const claim of ["a..b", ".a", "a.", "."]) expectConfigError(kongConfig({ acl_claim: claim }), "acl_claim", `'${claim}' is not a valid dot path`);
      expectConfigError(kongConfig({ acl_claim: "" }), "acl_claim", "must be a non-empty string");
    });

    it("keeps the header name for clearing and its lower case for lookup", () => {
      const policy = compileGatePolicy(kongConfig({ header_name: "X-MCP-Token" }));
      expect([policy.tokenHeader, policy.tokenHeaderKey]).to.deep.equal(["X-MCP-Token", "x-mcp-token"]);
      expectConfigError(kongConfig({ header_name: "X Token" }), "header_name", "'X Token' is not a valid header name");
      expectConfigError(kongConfig({ header_name: "X-Token:" }), "header_name", "'X-Token:' is not a valid header name");
    });

    it("trims trailing slashes of metadata_path and refuses what is not a path", () => {
      expect(compileGatePolicy(kongConfig({ metadata_path: "/.well-known/oauth-protected-resource//" })).metadataPath).to.equal("/.well-known/oauth-protected-resource");
      for (const path of ["relative/path", "/a?b", "/a#b", "/a b"]) expectConfigError(kongConfig({ metadata_path: path }), "metadata_path", "must be a path starting with '/'");
      expectConfigError(kongConfig({ metadata_path: "//" }), "metadata_path", "must not be '/'");
    });

    it("checks scopes_supported as scope tokens", () => {
      expect(compileGatePolicy(kongConfig({ scopes_supported: ["mcp:tools", "mcp:resources"] })).scopesSupported).to.deep.equal(["mcp:tools", "mcp:resources"]);
      expectConfigError(kongConfig({ scopes_supported: ["mcp:tools", "mcp tools"] }), "scopes_supported[2]", '"mcp tools" is not a valid OAuth scope token');
      expectConfigError(kongConfig({ scopes_supported: [""] }), "scopes_supported[1]", "must be a non-empty string");
    });

    it("keeps resource as written and derives its origin", () => {
      const policy = compileGatePolicy(kongConfig({ resource: "https://MCP.example.com:443/mcp/", resource_name: "Weather MCP" }));
      expect([policy.resource, policy.resourceOrigin, policy.resourceName]).to.deep.equal(["https://MCP.example.com:443/mcp/", "https://mcp.example.com", "Weather MCP"]);
      expect(compileGatePolicy(kongConfig({ resource: "http://localhost:8000/mcp" })).resourceOrigin).to.equal("http://localhost:8000");
      expectConfigError(kongConfig({ resource: "/mcp" }), "resource", "'/mcp' is not an absolute URL");
      expectConfigError(kongConfig({ resource: "" }), "resource", "must be a non-empty string");
    });

    it("reads booleans and refuses other types", () => {
      const policy = compileGatePolicy(kongConfig({ forward_authorization_header: true, run_on_preflight: false }));
      expect([policy.forwardToken, policy.runOnPreflight]).to.deep.equal([true, false]);
      expectConfigError(kongConfig({ enable_acl: "true" }), "enable_acl", "must be a boolean");
    });

    it("compiles scope_method_mapping only when enable_acl is on", () => {
      const mapping = [{ scope: "mcp:tools", methods: ["tools/*"] }];
      expect(compileGatePolicy(kongConfig({ enable_acl: true, scope_method_mapping: mapping })).acl?.entries.map((entry) => entry.scope)).to.deep.equal(["mcp:tools"]);
      expect(compileGatePolicy(kongConfig({ enable_acl: true })).acl?.entries).to.deep.equal([]);
      expect(compileGatePolicy(kongConfig({ scope_method_mapping: mapping })).acl).to.equal(null);
      expectConfigError(kongConfig({ enable_acl: true, scope_method_mapping: [{ scope: "a", methods: ["tools*"] }] }), "scope_method_mapping[1].methods[1]", `'tools*' is not a method pattern (use 'tools/list', 'notifications/*', '*', or 'tools/call:<glob>', 'resources/read:<glob>', 'prompts/get:<glob>')`);
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
        { http_timeout: 500, jwks_refetch_cooldown: 0, max_body_size: 10, run_on_preflight: false },
      ]) {
        expect(fingerprintOf(overrides), JSON.stringify(overrides)).to.equal(base);
      }
    });

    it("changes with the issuer, audience, JWKS, algorithms, skew, ACL claim and cache TTL", () => {
      const variants = [
        { authorization_servers: [{ url: KEYCLOAK, issuer: `${KEYCLOAK}/`, audience: AUDIENCE }] },
        { authorization_servers: [{ url: KEYCLOAK, audience: `${AUDIENCE}/` }] },
        { authorization_servers: [{ url: KEYCLOAK, audience: AUDIENCE, jwks_uri: "/certs" }] },
        { allowed_algorithms: ["RS256"] },
        { clock_skew: 31 },
        { acl_claim: "realm_access.roles" },
        { token_cache_ttl: 301 },
      ];
      const fingerprints = variants.map(fingerprintOf);
      expect(new Set([base, ...fingerprints]).size).to.equal(variants.length + 1);
    });
  });
});
