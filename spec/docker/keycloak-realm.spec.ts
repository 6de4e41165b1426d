import { expect } from "chai";
import { CLIENT_SCOPE_ROLE_MAPPINGS, GROUP_REALM_ROLES, MCP_SCOPES } from "../../demo/realm-roles";
import { findSeedClient as findClient, findSeedRegistrationPolicies as findRegistrationPolicies } from "../../kong/keycloak/seed-realm";
import { findScopesWithMapper, KEYCLOAK_REALM as realm } from "./deploy-files";

describe("docker: Keycloak realm kong/keycloak/realm-mcp.json", () => {
  it("models what the demo authorization server models (demo/realm-roles.ts)", () => {
    expect(realm.realm).to.equal("mcp");
    expect(realm.roles?.realm?.map((role) => role.name)).to.have.members([...MCP_SCOPES]);
    expect(Object.fromEntries((realm.groups ?? []).map((group) => [group.name, group.realmRoles]))).to.deep.equal(GROUP_REALM_ROLES);
    const mcpScopeMappings = (realm.scopeMappings ?? []).filter((mapping) => MCP_SCOPES.some((scope) => scope === mapping.clientScope));
    expect(Object.fromEntries(mcpScopeMappings.map((mapping) => [mapping.clientScope, mapping.roles]))).to.deep.equal(CLIENT_SCOPE_ROLE_MAPPINGS);
  });

  it("writes each MCP scope into the token's scope claim", () => {
    const scopes = realm.clientScopes?.filter((scope) => MCP_SCOPES.some((name) => name === scope.name));
    expect(scopes?.map((scope) => [scope.name, scope.attributes?.["include.in.token.scope"]])).to.deep.equal([
      ["mcp:tools", "true"],
      ["mcp:resources", "true"],
    ]);
  });

  it("adds the MCP URL to the access token's audience only, from both MCP scopes", () => {
    const audienceMappers = findScopesWithMapper("oidc-audience-mapper");
    expect(audienceMappers.map(({ scope }) => scope.name)).to.deep.equal([...MCP_SCOPES]);
    for (const { mapper } of audienceMappers) {
      expect(mapper.config).to.deep.equal({
        "included.custom.audience": "http://localhost:8000/mcp",
        "access.token.claim": "true",
        "id.token.claim": "false",
        "introspection.token.claim": "true",
      });
    }
  });

  it("writes the realm roles in scope as the multivalued access-token claim mcp_scopes, kept out of ID token and userinfo", () => {
    const mcpScopesMappers = findScopesWithMapper("oidc-usermodel-realm-role-mapper").filter(({ mapper }) => mapper.config?.["claim.name"] === "mcp_scopes");
    expect(mcpScopesMappers.map(({ scope }) => scope.name)).to.deep.equal([...MCP_SCOPES]);
    for (const { mapper } of mcpScopesMappers) {
      expect(mapper.config).to.include({ multivalued: "true", "access.token.claim": "true", "id.token.claim": "false", "userinfo.token.claim": "false" });
    }
  });

  it("declares every client scope that clients and realm defaults name (a realm file with clientScopes gets no built-in ones)", () => {
    // Keycloak does not create offline_access for such a file: it warns "Referenced client scope
    // 'offline_access' doesn't exist" and leaves it out of the clients (seen with Keycloak 26.7).
    const declared = new Set(realm.clientScopes?.map((scope) => scope.name));
    const referenced = [
      ...(realm.defaultDefaultClientScopes ?? []),
      ...(realm.defaultOptionalClientScopes ?? []),
      ...(realm.clients ?? []).flatMap((client) => [...(client.defaultClientScopes ?? []), ...(client.optionalClientScopes ?? [])]),
    ];
    expect(referenced.filter((name) => !declared.has(name))).to.deep.equal([]);
    expect(realm.scopeMappings?.find((mapping) => mapping.clientScope === "offline_access")?.roles).to.deep.equal(["offline_access"]);
    // Keycloak 25+ puts `sub` into access tokens through the `basic` scope only.
    expect(findScopesWithMapper("oidc-sub-mapper").map(({ scope }) => scope.name)).to.deep.equal(["basic"]);
  });

  it("seeds alice as member and bob as admin, with complete profiles and permanent passwords", () => {
    for (const [username, group] of [
      ["alice", "/mcp-member"],
      ["bob", "/mcp-admin"],
    ] as const) {
      const user = realm.users?.find((candidate) => candidate.username === username);
      expect(user?.groups, username).to.deep.equal([group]);
      // Keycloak 24+ refuses the password grant ("Account is not fully set up") for incomplete profiles.
      expect(Boolean(user?.email && user.firstName && user.lastName && user.emailVerified), username).to.equal(true);
      expect(user?.credentials, username).to.deep.equal([{ type: "password", value: `${username}-password`, temporary: false }]);
    }
  });

  it("has the public client mcp-client: code flow with PKCE S256, loopback and VS Code redirects, MCP scopes optional", () => {
    const client = findClient("mcp-client");
    expect(client).to.include({ publicClient: true, standardFlowEnabled: true, implicitFlowEnabled: false, directAccessGrantsEnabled: false });
    expect(client.attributes?.["pkce.code.challenge.method"]).to.equal("S256");
    expect(client.redirectUris).to.include.members(["http://127.0.0.1/*", "http://localhost/*", "https://vscode.dev/redirect"]);
    expect(client.optionalClientScopes).to.include.members([...MCP_SCOPES]);
  });

  it("has the confidential machine client mcp-machine whose service account holds mcp:tools", () => {
    const client = findClient("mcp-machine");
    expect(client).to.include({ publicClient: false, serviceAccountsEnabled: true, standardFlowEnabled: false });
    expect(client.defaultClientScopes).to.include("mcp:tools");
    expect(realm.users?.find((user) => user.serviceAccountClientId === "mcp-machine")?.realmRoles).to.deep.equal(["mcp:tools"]);
  });

  it("lets no client carry roles beyond its scopes' role mappings (full scope off everywhere)", () => {
    expect((realm.clients ?? []).filter((client) => client.fullScopeAllowed !== false).map((client) => client.clientId)).to.deep.equal([]);
  });

  describe("anonymous dynamic client registration", () => {
    it("accepts registrations from any host, for redirect URIs on loopback or vscode.dev only", () => {
      const trustedHosts = findRegistrationPolicies("anonymous").find((policy) => policy.providerId === "trusted-hosts");
      expect(trustedHosts?.config).to.deep.equal({
        "trusted-hosts": ["localhost", "127.0.0.1", "vscode.dev", "insiders.vscode.dev"],
        "host-sending-registration-request-must-match": ["false"],
        "client-uris-must-match": ["true"],
      });
    });

    it("keeps Keycloak's other safeguards, since a realm file's policies replace the defaults", () => {
      expect(findRegistrationPolicies("anonymous").map((policy) => policy.providerId)).to.have.members([
        "trusted-hosts",
        "consent-required",
        "scope",
        "max-clients",
        "allowed-protocol-mappers",
        "allowed-client-templates",
      ]);
      expect(findRegistrationPolicies("authenticated").map((policy) => policy.providerId)).to.have.members(["allowed-protocol-mappers", "allowed-client-templates"]);
    });

    it("lets registered clients request the MCP scopes, which are realm default optional scopes", () => {
      const allowedScopes = findRegistrationPolicies("anonymous").find((policy) => policy.providerId === "allowed-client-templates");
      expect(allowedScopes?.config?.["allow-default-scopes"]).to.deep.equal(["true"]);
      expect(realm.defaultOptionalClientScopes).to.include.members([...MCP_SCOPES]);
    });
  });
});
