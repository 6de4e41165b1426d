import { expect } from "chai";
import { DEMO_ACL } from "../../demo/local-stack";
import { applySchemaDefaults, NATIVE_LIST_GUARD_BODY, type PluginSchema } from "../../kong/driver";
import { Schema as listFilterSchema } from "../../plugins-list-filter/mcp-oauth2-list-filter";
import { compileGatePolicy } from "../../plugins/mcp-oauth2/core/gate-config";
import { buildProtectedResourceMetadata } from "../../plugins/mcp-oauth2/core/protected-resource-metadata";
import { schema } from "../../plugins/mcp-oauth2/schema";
import { findProtectedRoute, findScopesWithMapper, KEYCLOAK_REALM as realm, readComposeFile, readKongDeclarativeConfig } from "./deploy-files";

interface AuthorizationServerConfig {
  url: string;
  issuer: string;
  audience: string;
  jwks_uri: string;
}

/** The plugin's schema as its plugin server dumps it to Kong: the fields wrapped as the `config` record. */
const KONG_PLUGIN_SCHEMA: PluginSchema = { name: "mcp-oauth2", fields: [{ config: { type: "record", fields: schema } }] };

const declarativeConfig = readKongDeclarativeConfig();
const { service, route, plugins } = findProtectedRoute(declarativeConfig);
const gateConfig = plugins.get("mcp-oauth2")!.config;
const [authorizationServer] = gateConfig.authorization_servers as AuthorizationServerConfig[];
const compose = readComposeFile();
const audienceMappers = findScopesWithMapper("oidc-audience-mapper");

describe("docker: kong/kong.yml against the plugin, the Keycloak realm and docker-compose.yml", () => {
  it("uses decK format 3.0", () => {
    expect(declarativeConfig._format_version).to.equal("3.0");
  });

  it("sets only fields of the plugin's schema, and the plugin accepts the result", () => {
    // Throws SchemaViolationError naming every unknown field or wrong value: Kong refuses the whole file for one.
    const stored = applySchemaDefaults(KONG_PLUGIN_SCHEMA, gateConfig);
    expect(compileGatePolicy(stored).acl?.mappedScopes).to.deep.equal(new Set(["mcp:tools", "mcp:resources"]));
  });

  it("expects the issuer Keycloak writes into every token, which KC_HOSTNAME pins, and advertises it", () => {
    const keycloakHostname = compose.services.keycloak?.environment?.KC_HOSTNAME;
    expect(authorizationServer?.issuer).to.equal(`${keycloakHostname}/realms/${realm.realm}`);
    expect(authorizationServer?.url).to.equal(authorizationServer?.issuer);
  });

  it("fetches the JWKS from Keycloak's address inside the compose network", () => {
    const containerPort = compose.services.keycloak?.ports?.[0]?.split(":")[1];
    expect(authorizationServer?.jwks_uri).to.equal(`http://keycloak:${containerPort}/realms/${realm.realm}/protocol/openid-connect/certs`);
  });

  it("requires the audience the realm's Audience mappers write, which is the resource the metadata announces", () => {
    const audiences = audienceMappers.map(({ mapper }) => mapper.config?.["included.custom.audience"]);
    expect(audiences).to.deep.equal([gateConfig.resource, gateConfig.resource]);
    expect(authorizationServer?.audience).to.equal(gateConfig.resource);
    const policy = compileGatePolicy(applySchemaDefaults(KONG_PLUGIN_SCHEMA, gateConfig));
    const resourceUrl = new URL(String(gateConfig.resource));
    expect(buildProtectedResourceMetadata(policy, resourceUrl.origin, resourceUrl.pathname).resource).to.equal(gateConfig.resource);
  });

  it("publishes Kong's proxy on the port of the resource URL", () => {
    const port = new URL(String(gateConfig.resource)).port;
    expect(compose.services.kong?.ports).to.deep.equal([`${port}:8000`]);
  });

  it("reads the claim and the scope names the realm issues", () => {
    // The scopes that make a token valid here (they carry the audience) are the ones the ACL knows.
    const scopeNames = audienceMappers.map(({ scope }) => scope.name);
    const roleClaims = findScopesWithMapper("oidc-usermodel-realm-role-mapper")
      .filter(({ scope }) => scopeNames.includes(scope.name))
      .map(({ mapper }) => mapper.config?.["claim.name"]);
    expect(roleClaims).to.deep.equal([gateConfig.acl_claim, gateConfig.acl_claim]);
    expect(gateConfig.scopes_supported).to.deep.equal(scopeNames);
    expect((gateConfig.scope_method_mapping as { scope: string }[]).map((entry) => entry.scope)).to.deep.equal(scopeNames);
  });

  it("routes the MCP path and the metadata paths through the protected route to the demo container", () => {
    expect(route.paths).to.have.members([new URL(String(gateConfig.resource)).pathname, String(gateConfig.metadata_path)]);
    const upstream = new URL(service.url);
    expect(compose.services[upstream.hostname]?.environment?.MCP_DEMO_PORT).to.equal(upstream.port);
  });

  it("lets browsers send the MCP headers and read the challenge and the session id (cors)", () => {
    const cors = plugins.get("cors")?.config;
    expect(cors?.headers).to.include.members(["Authorization", "Content-Type", "Mcp-Session-Id", "MCP-Protocol-Version", "Last-Event-ID", "Mcp-Method", "Mcp-Name"]);
    expect(cors?.exposed_headers).to.include.members(["WWW-Authenticate", "Mcp-Session-Id"]);
  });

  it("guards the same route natively: a request the plugin did not mark gets 503", () => {
    const [guard] = (plugins.get("post-function")?.config.access ?? []) as string[];
    expect(guard).to.match(/if kong\.ctx\.shared\.mcp_oauth2 == nil then/);
    expect(guard).to.match(/kong\.response\.exit\(503,/);
  });

  it("filters lists on the same route: mcp-oauth2-list-filter with its (empty) configuration, mcp-oauth2 handing listings over", () => {
    const listFilter = plugins.get("mcp-oauth2-list-filter");
    expect(listFilter?.config).to.deep.equal({});
    expect(applySchemaDefaults({ name: "mcp-oauth2-list-filter", fields: [{ config: { type: "record", fields: listFilterSchema } }] }, listFilter!.config)).to.deep.equal({});
    expect(gateConfig.filter_lists).to.equal(true);
  });

  it("guards list responses natively: one no plugin answered gets the 502 the driver emulates", () => {
    const config = plugins.get("post-function")?.config as { header_filter: string[]; body_filter: string[] };
    expect(config.header_filter[0]).to.match(/verified\.listing and kong\.response\.get_source\(\) == "service"/);
    expect(config.header_filter[0]).to.match(/kong\.response\.set_status\(502\)/);
    expect(config.body_filter[0]).to.include(`kong.response.set_raw_body('${NATIVE_LIST_GUARD_BODY}')`);
  });

  it("uses the ACL of npm start's local stack, so both show the same lists", () => {
    const { enable_acl, acl_claim, scope_method_mapping, session_methods, filter_lists } = gateConfig;
    expect({ enable_acl, acl_claim, scope_method_mapping, session_methods, filter_lists }).to.deep.equal(DEMO_ACL);
  });
});
