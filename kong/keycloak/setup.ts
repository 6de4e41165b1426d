#!/usr/bin/env node
// mcp-oauth2-keycloak-setup: the README's Keycloak steps, applied to an existing realm through the
// Admin API, idempotently (see realm-setup.ts).
import { parseArgs } from "node:util";
import { connectKeycloakAdmin, type AdminLogin } from "./admin-connection";
import { applyRealmSetup, planRealmSetup, type RealmSetupOptions } from "./realm-setup";

export const SETUP_USAGE = `Usage: mcp-oauth2-keycloak-setup --url <Keycloak URL> --audience <MCP URL> [options]

Sets up an existing realm for mcp-oauth2 as the README's Keycloak section describes: realm roles
mcp:tools and mcp:resources, client scopes of those names with the Audience and mcp_scopes mappers,
groups mcp-member and mcp-admin, the clients mcp-client and mcp-machine, and the anonymous client
registration policy. What exists already is kept; a second run changes nothing.

  --url <url>            Keycloak's base URL, e.g. https://sso.example.com     KEYCLOAK_URL
  --realm <name>         the realm to set up (it must exist)                    default: mcp
  --audience <url>       the public MCP URL: the plugin's audience (and resource)
  --demo-users           also create alice (mcp-member) and bob (mcp-admin) with the demo passwords
  --dry-run              print the plan and change nothing
  --admin-realm <name>   the realm of the admin account                         default: master
  --admin-user <name>    admin user, logged in through admin-cli                KEYCLOAK_ADMIN_USER, default: admin
                         its password: KEYCLOAK_ADMIN_PASSWORD
  --admin-client <id>    log in as this confidential client's service account instead
                         its secret: KEYCLOAK_ADMIN_CLIENT_SECRET
  --help                 show this text

mcp-machine's client secret: MCP_MACHINE_CLIENT_SECRET, else Keycloak generates one when it creates
the client (read it in the Admin console under Clients > mcp-machine > Credentials).
Secrets are read from the environment only, so that they stay out of shell history and ps.
`;

/** What the command line asks for. */
export interface SetupCommand {
  readonly help: boolean;
  readonly dryRun: boolean;
  readonly login: AdminLogin;
  readonly setup: RealmSetupOptions;
}

/** A command-line mistake: the usage goes with it. */
export class SetupUsageError extends Error {}

function requireUrl(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new SetupUsageError(`${flag} is required`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SetupUsageError(`${flag}: "${value}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new SetupUsageError(`${flag}: "${value}" is not an http(s) URL`);
  return value;
}

/** Reads the flags and the environment. Throws SetupUsageError on a missing or malformed value. */
export function parseSetupCommand(argv: readonly string[], env: NodeJS.ProcessEnv): SetupCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        url: { type: "string" },
        realm: { type: "string" },
        audience: { type: "string" },
        "demo-users": { type: "boolean" },
        "dry-run": { type: "boolean" },
        "admin-realm": { type: "string" },
        "admin-user": { type: "string" },
        "admin-client": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new SetupUsageError((error as Error).message);
  }
  if (values.help === true) return { help: true, dryRun: false, login: { baseUrl: "" }, setup: { realm: "", audience: "", demoUsers: false } };
  // Keycloak's base URL, without the trailing slash that would double the one of /realms/...
  const baseUrl = requireUrl(values.url ?? env.KEYCLOAK_URL, "--url (or KEYCLOAK_URL)").replace(/\/+$/, "");
  const audience = requireUrl(values.audience, "--audience");
  const adminRealm = values["admin-realm"] ?? "master";
  let login: AdminLogin;
  if (values["admin-client"] !== undefined) {
    const clientSecret = env.KEYCLOAK_ADMIN_CLIENT_SECRET;
    if (!clientSecret) throw new SetupUsageError("--admin-client needs KEYCLOAK_ADMIN_CLIENT_SECRET in the environment");
    login = { baseUrl, realm: adminRealm, clientId: values["admin-client"], clientSecret };
  } else {
    const password = env.KEYCLOAK_ADMIN_PASSWORD;
    if (!password) throw new SetupUsageError("the admin password goes in KEYCLOAK_ADMIN_PASSWORD (or use --admin-client)");
    login = { baseUrl, realm: adminRealm, username: values["admin-user"] ?? env.KEYCLOAK_ADMIN_USER ?? "admin", password };
  }
  const machineClientSecret = env.MCP_MACHINE_CLIENT_SECRET || undefined;
  return {
    help: false,
    dryRun: values["dry-run"] ?? false,
    login,
    setup: { realm: values.realm ?? "mcp", audience, demoUsers: values["demo-users"] ?? false, ...(machineClientSecret === undefined ? {} : { machineClientSecret }) },
  };
}

async function main(): Promise<void> {
  const command = parseSetupCommand(process.argv.slice(2), process.env);
  if (command.help) {
    process.stdout.write(SETUP_USAGE);
    return;
  }
  const { login, setup } = command;
  const admin = await connectKeycloakAdmin(login, setup.realm);
  const where = `realm "${setup.realm}" at ${login.baseUrl}`;
  if (command.dryRun) {
    const steps = await planRealmSetup(admin, setup);
    console.log(steps.length === 0 ? `${where} is set up: nothing to change` : `${where}: ${steps.length} change(s) planned (dry run, nothing changed)`);
    for (const step of steps) console.log(`  would ${step.description}`);
    return;
  }
  const applied = await applyRealmSetup(admin, setup, (line) => console.log(`  ${line}`));
  console.log(applied.length === 0 ? `${where} is set up: nothing to change` : `${where}: ${applied.length} change(s) applied`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    if (error instanceof SetupUsageError) console.error(`mcp-oauth2-keycloak-setup: ${error.message}\n\n${SETUP_USAGE}`);
    else console.error(`mcp-oauth2-keycloak-setup failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(error instanceof SetupUsageError ? 2 : 1);
  });
}
