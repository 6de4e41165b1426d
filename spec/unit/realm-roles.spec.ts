import { expect } from "chai";
import { DEFAULT_USERS, resolveRealmRoles, selectPermittedScopes, selectRolesInScope } from "../../demo/realm-roles";

describe("realm-roles", () => {
  it("grants realm roles through groups, without duplicates", () => {
    expect(resolveRealmRoles(["mcp-member"])).to.deep.equal(["mcp:tools"]);
    expect(resolveRealmRoles(["mcp-member", "mcp-admin"])).to.deep.equal(["mcp:tools", "mcp:resources"]);
    expect(resolveRealmRoles(["unknown-group"])).to.deep.equal([]);
  });

  it("permits a client scope only to a subject holding a role it maps, and scopes without mappings always", () => {
    const requested = ["openid", "mcp:tools", "mcp:resources"];
    expect(selectPermittedScopes(["mcp:tools"], requested)).to.deep.equal(["openid", "mcp:tools"]);
    expect(selectPermittedScopes(["mcp:tools", "mcp:resources"], requested)).to.deep.equal(requested);
    expect(selectPermittedScopes([], requested)).to.deep.equal(["openid"]);
  });

  it("keeps the roles the granted scopes map (full scope not allowed)", () => {
    const adminRoles = ["mcp:tools", "mcp:resources", "default-roles-mcp"];
    expect(selectRolesInScope(adminRoles, ["mcp:tools"])).to.deep.equal(["mcp:tools"]);
    expect(selectRolesInScope(adminRoles, ["openid", "mcp:tools", "mcp:resources"])).to.deep.equal(["mcp:tools", "mcp:resources"]);
    expect(selectRolesInScope(["mcp:tools"], ["mcp:resources"])).to.deep.equal([]);
  });

  it("ships the member alice and the admin bob of the Keycloak seed realm", () => {
    expect(DEFAULT_USERS.map((user) => [user.username, user.password, user.groups])).to.deep.equal([
      ["alice", "alice-password", ["mcp-member"]],
      ["bob", "bob-password", ["mcp-admin"]],
    ]);
  });
});
