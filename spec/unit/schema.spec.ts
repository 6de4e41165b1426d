import { expect } from "chai";
import { CONFIG_DEFAULTS } from "../../plugins/mcp-oauth2/core/gate-config";
import { schema } from "../../plugins/mcp-oauth2/schema";

type Attributes = Record<string, unknown>;
const ALLOWED_ATTRIBUTES = new Set(["type", "required", "default", "description", "elements", "fields", "one_of", "between", "len_min"]);

/** Every field definition in the schema, nested ones included, with its dotted path. */
function walk(fields: readonly Record<string, Attributes>[], prefix = ""): Array<[string, Attributes]> {
  return fields.flatMap((field) => {
    const [name, attributes] = Object.entries(field)[0];
    const path = prefix + name;
    const nested: Array<[string, Attributes]> = [];
    const elements = attributes.elements as Attributes | undefined;
    if (elements !== undefined) nested.push([`${path}[]`, elements]);
    const records = (attributes.fields ?? elements?.fields) as Record<string, Attributes>[] | undefined;
    if (records !== undefined) nested.push(...walk(records, `${path}.`));
    return [[path, attributes] as [string, Attributes], ...nested];
  });
}

describe("schema (Kong 3.9 metaschema rules for external plugins)", () => {
  const all = walk(schema as unknown as Record<string, Attributes>[]);

  it("names exactly the configuration fields operators rely on, in console order", () => {
    expect(schema.map((field) => Object.keys(field)[0])).to.deep.equal([
      "metadata_path", "authorization_servers", "scopes_supported", "header_name", "forward_authorization_header", "upstream_headers",
      "enable_acl", "acl_mode", "acl_claim", "scope_method_mapping", "scope_hierarchy", "session_methods", "filter_lists", "token_cache_ttl", "token_cache_size",
      "http_timeout", "resource", "resource_name", "allowed_algorithms", "clock_skew", "keycloak_compat", "max_body_size",
      "run_on_preflight", "jwks_refetch_cooldown",
    ]);
  });

  it("gives every field, at every depth, a description of 10 to 500 characters", () => {
    for (const [path, attributes] of all) {
      expect(attributes.description, path).to.be.a("string");
      expect((attributes.description as string).length, path).to.be.within(10, 500);
    }
  });

  it("uses only attributes Kong accepts, required as a boolean, one_of and between only where allowed, no null or empty-string default", () => {
    for (const [path, attributes] of all) {
      for (const attribute of Object.keys(attributes)) expect(ALLOWED_ATTRIBUTES.has(attribute), `${path}.${attribute}`).to.equal(true);
      if ("required" in attributes) expect(attributes.required, path).to.be.a("boolean");
      if ("one_of" in attributes) expect(["string", "number", "integer"], path).to.include(attributes.type);
      if ("between" in attributes) expect(["number", "integer"], path).to.include(attributes.type);
      expect(attributes.default, path).not.to.equal(null);
      expect(attributes.default, path).not.to.equal("");
    }
  });

  it("declares the defaults the core applies", () => {
    const defaults = Object.fromEntries(all.filter(([, attributes]) => "default" in attributes).map(([path, attributes]) => [path, attributes.default]));
    expect(defaults).to.deep.equal({
      metadata_path: CONFIG_DEFAULTS.metadata_path,
      "authorization_servers.jwks_uri": "/.well-known/jwks.json",
      scopes_supported: [],
      header_name: "Authorization",
      forward_authorization_header: false,
      upstream_headers: [],
      enable_acl: false,
      acl_mode: "enforce",
      acl_claim: "scope",
      scope_method_mapping: [],
      scope_hierarchy: [],
      session_methods: ["initialize", "ping", "notifications/initialized", "notifications/cancelled", "server/discover"],
      filter_lists: false,
      token_cache_ttl: 300,
      token_cache_size: 10000,
      http_timeout: 10000,
      allowed_algorithms: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"],
      clock_skew: 30,
      keycloak_compat: false,
      max_body_size: 1048576,
      run_on_preflight: true,
      jwks_refetch_cooldown: 10,
    });
  });

  it("offers acl_mode enforce and dry_run only", () => {
    const aclMode = schema.find((field) => "acl_mode" in field)!.acl_mode;
    expect([aclMode.type, aclMode.required, aclMode.one_of]).to.deep.equal(["string", true, ["enforce", "dry_run"]]);
  });

  it("requires both members of upstream_headers and scope_hierarchy entries, and at least one implied scope", () => {
    const recordOf = (name: string) => {
      const field = schema.find((candidate) => name in candidate)![name];
      expect([field.type, field.required, field.default, field.elements!.type], name).to.deep.equal(["array", true, [], "record"]);
      return Object.fromEntries(field.elements!.fields!.map((member) => Object.entries(member)[0]));
    };
    const upstreamHeader = recordOf("upstream_headers");
    expect(Object.keys(upstreamHeader)).to.deep.equal(["header", "claim"]);
    expect([upstreamHeader.header.required, upstreamHeader.claim.required]).to.deep.equal([true, true]);
    const hierarchy = recordOf("scope_hierarchy");
    expect(Object.keys(hierarchy)).to.deep.equal(["scope", "implies"]);
    expect([hierarchy.scope.required, hierarchy.implies.required, hierarchy.implies.len_min, hierarchy.implies.elements!.type]).to.deep.equal([true, true, 1, "string"]);
  });

  it("requires at least one authorization server with url and audience", () => {
    const servers = schema.find((field) => "authorization_servers" in field)!.authorization_servers;
    expect(servers.required).to.equal(true);
    expect(servers.len_min).to.equal(1);
    const record = Object.fromEntries(servers.elements!.fields!.map((field) => Object.entries(field)[0]));
    expect([record.url.required, record.issuer.required, record.audience.required]).to.deep.equal([true, false, true]);
  });
});
