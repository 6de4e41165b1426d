import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type KeycloakAdminClient from "@keycloak/keycloak-admin-client";
import { expect } from "chai";
import type { KeycloakServer } from "../../kong/keycloak/keycloak-server";
import { findSeedClient, findSeedClientScope, REGISTRATION_POLICY_TYPE } from "../../kong/keycloak/seed-realm";
import { connectAdmin, useKeycloakGateway, useSeededKeycloak, type KeycloakGateway } from "../support/keycloak-fixture";
import { describeRealmThroughGate } from "../support/keycloak-realm-checks";
import { assertBuiltFrom } from "../support/plugin-server-fixture";

const PROJECT_ROOT = join(__dirname, "..", "..");
const SETUP = join(PROJECT_ROOT, "dist", "kong", "keycloak", "setup.js");
const REALM = "mcp-setup";
const MACHINE_SECRET = "mcp-setup-machine-secret";

interface SetupRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built command as an operator would, the admin password in the environment. */
async function runSetup(keycloak: KeycloakServer, args: readonly string[], env: Record<string, string> = {}): Promise<SetupRun> {
  const environment = { ...process.env, KEYCLOAK_ADMIN_USER: keycloak.admin.username, KEYCLOAK_ADMIN_PASSWORD: keycloak.admin.password, MCP_MACHINE_CLIENT_SECRET: MACHINE_SECRET, ...env };
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [SETUP, "--url", keycloak.baseUrl, ...args], { env: environment, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof failed.code === "number" ? failed.code : -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

/** What the setup decides in a realm, read back through the Admin API without ids. */
async function readSetupState(admin: KeycloakAdminClient): Promise<unknown> {
  const withoutIds = (value: unknown): unknown =>
    JSON.parse(JSON.stringify(value, (key, field: unknown) => (key === "id" || key === "containerId" || key === "parentId" ? undefined : field)));
  const scopes = (await admin.clientScopes.find()).filter((scope) => scope.name?.startsWith("mcp:"));
  const clients = await Promise.all(
    ["mcp-client", "mcp-machine"].map(async (clientId) => {
      const [client] = await admin.clients.find({ clientId });
      if (client?.id === undefined) return { clientId };
      const { id } = client;
      return { client, defaults: await admin.clients.listDefaultClientScopes({ id }), optional: await admin.clients.listOptionalClientScopes({ id }) };
    }),
  );
  const groups = await Promise.all(
    (await admin.groups.find()).map(async (group) => ({ name: group.name, roles: (await admin.groups.listRealmRoleMappings({ id: group.id as string })).map((role) => role.name) })),
  );
  const users = await Promise.all(
    (await admin.users.find()).map(async (user) => ({ user, groups: (await admin.users.listGroups({ id: user.id as string })).map((group) => group.name) })),
  );
  return withoutIds({
    roles: (await admin.roles.find()).map((role) => role.name).sort(),
    scopes: await Promise.all(scopes.map(async (scope) => ({ scope, roles: await admin.clientScopes.listRealmScopeMappings({ id: scope.id as string }) }))),
    defaultOptional: await admin.clientScopes.listDefaultOptionalClientScopes(),
    clients,
    groups,
    users,
    policies: await admin.components.find({ type: REGISTRATION_POLICY_TYPE }),
  });
}

function listPlannedSteps(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("  "))
    .map((line) => line.trim());
}

describe("mcp-oauth2-keycloak-setup: the README's Keycloak steps as a command, on a fresh realm of the real Keycloak", () => {
  let keycloak: KeycloakServer;
  let gateway: KeycloakGateway;
  let admin: KeycloakAdminClient;

  before(async function () {
    assertBuiltFrom(SETUP, join(PROJECT_ROOT, "kong", "keycloak"));
    keycloak = await useSeededKeycloak(this);
    gateway = await useKeycloakGateway();
    admin = await connectAdmin(keycloak, REALM);
    await admin.realms.create({ realm: REALM, enabled: true });
  });
  after(async () => {
    if (admin !== undefined) await admin.realms.del({ realm: REALM });
  });

  it("is the package's bin mcp-oauth2-keycloak-setup", () => {
    const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { bin: Record<string, string>; dependencies: Record<string, string> };
    expect(manifest.bin["mcp-oauth2-keycloak-setup"]).to.equal("dist/kong/keycloak/setup.js");
    expect(manifest.dependencies).to.have.property("@keycloak/keycloak-admin-client");
  });

  it("prints the plan with --dry-run and changes nothing", async () => {
    const before = await readSetupState(admin);
    const run = await runSetup(keycloak, ["--realm", REALM, "--audience", gateway.mcpEndpoint, "--demo-users", "--dry-run"]);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout.split("\n")[0]).to.equal(`realm "${REALM}" at ${keycloak.baseUrl}: 13 change(s) planned (dry run, nothing changed)`);
    expect(listPlannedSteps(run.stdout)).to.deep.equal([
      "would create realm role mcp:tools",
      "would create realm role mcp:resources",
      `would create client scope mcp:tools (audience ${gateway.mcpEndpoint}; mappers mcp audience, mcp_scopes; role mcp:tools)`,
      "would add mcp:tools to the realm's default optional client scopes (registered clients may then request it)",
      `would create client scope mcp:resources (audience ${gateway.mcpEndpoint}; mappers mcp audience, mcp_scopes; role mcp:resources)`,
      "would add mcp:resources to the realm's default optional client scopes (registered clients may then request it)",
      "would create group mcp-member with realm role mcp:tools",
      "would create group mcp-admin with realm role mcp:tools, mcp:resources",
      "would create client mcp-client (public)",
      "would create client mcp-machine (confidential; service account role mcp:tools)",
      'would set the anonymous client registration policy "Trusted Hosts": trusted-hosts (unset) -> ["localhost","127.0.0.1","vscode.dev","insiders.vscode.dev"], host-sending-registration-request-must-match ["true"] -> ["false"]',
      "would create demo user alice (password from the seed realm) in group mcp-member",
      "would create demo user bob (password from the seed realm) in group mcp-admin",
    ]);
    expect(await readSetupState(admin)).to.deep.equal(before);
  });

  it("applies the steps, creating the demo users only when asked", async () => {
    const withoutUsers = await runSetup(keycloak, ["--realm", REALM, "--audience", gateway.mcpEndpoint]);
    expect(withoutUsers.code, withoutUsers.stderr).to.equal(0);
    expect(withoutUsers.stdout).to.include(`realm "${REALM}" at ${keycloak.baseUrl}: 11 change(s) applied`);
    expect((await admin.users.find({ username: "alice", exact: true })).length).to.equal(0);

    const withUsers = await runSetup(keycloak, ["--realm", REALM, "--audience", gateway.mcpEndpoint, "--demo-users"]);
    expect(withUsers.code, withUsers.stderr).to.equal(0);
    expect(listPlannedSteps(withUsers.stdout)).to.deep.equal([
      "create demo user alice (password from the seed realm) in group mcp-member",
      "create demo user bob (password from the seed realm) in group mcp-admin",
    ]);
  });

  it("changes nothing when run again: it says so, and the realm reads back the same", async () => {
    const before = await readSetupState(admin);
    const run = await runSetup(keycloak, ["--realm", REALM, "--audience", gateway.mcpEndpoint, "--demo-users"]);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.equal(`realm "${REALM}" at ${keycloak.baseUrl} is set up: nothing to change\n`);
    expect(await readSetupState(admin)).to.deep.equal(before);
  });

  it("plans nothing for the seed realm imported from kong/keycloak/realm-mcp.json: the command and the file set up the same", async () => {
    const seedAudience = findSeedClientScope("mcp:tools").protocolMappers?.find((mapper) => mapper.protocolMapper === "oidc-audience-mapper")?.config?.["included.custom.audience"] as string;
    const run = await runSetup(keycloak, ["--realm", "mcp", "--audience", seedAudience, "--demo-users", "--dry-run"], { MCP_MACHINE_CLIENT_SECRET: findSeedClient("mcp-machine").secret as string });
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.equal(`realm "mcp" at ${keycloak.baseUrl} is set up: nothing to change\n`);
  });

  it("fails with the reason on a realm that does not exist, a refused admin login, or a missing password", async () => {
    const missingRealm = await runSetup(keycloak, ["--realm", "no-such-realm", "--audience", gateway.mcpEndpoint]);
    expect([missingRealm.code, missingRealm.stderr]).to.deep.equal([1, 'mcp-oauth2-keycloak-setup failed: realm "no-such-realm" does not exist: create it first (Admin console > Create realm)\n']);
    const refused = await runSetup(keycloak, ["--realm", REALM, "--audience", gateway.mcpEndpoint], { KEYCLOAK_ADMIN_PASSWORD: "wrong" });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include(`Keycloak refused the admin login of user ${keycloak.admin.username}`).and.include("invalid_grant");
    const noPassword = await runSetup(keycloak, ["--realm", REALM, "--audience", gateway.mcpEndpoint], { KEYCLOAK_ADMIN_PASSWORD: "" });
    expect(noPassword.code).to.equal(2);
    expect(noPassword.stderr).to.match(/^mcp-oauth2-keycloak-setup: the admin password goes in KEYCLOAK_ADMIN_PASSWORD \(or use --admin-client\)\n\nUsage: /);
  });

  describe("the realm it set up, through the gate (as the seed realm is checked)", () => {
    describeRealmThroughGate(async (context) => ({
      realm: { keycloak: await useSeededKeycloak(context), realm: REALM, audience: (await useKeycloakGateway()).mcpEndpoint, machineClientSecret: MACHINE_SECRET },
      gateway: await useKeycloakGateway(),
    }));
  });
});
