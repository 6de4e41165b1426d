// The ACL configurations the differential suite puts in front of every upstream: each example the
// README gives (read from the README itself, so that a changed example is the one tested), the
// shipped kong/kong.yml, and one written for the catalogue's items.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";

const PROJECT_ROOT = join(__dirname, "..", "..");

export interface ScopeMapping {
  readonly scope: string;
  readonly methods: readonly string[];
}

/** One ACL: the plugin config fields that make it. */
export interface AclExample {
  /** Also its route's path segment. */
  readonly name: string;
  readonly scope_method_mapping: readonly ScopeMapping[];
  readonly scope_hierarchy: readonly { readonly scope: string; readonly implies: readonly string[] }[];
}

type RawAcl = Partial<Pick<AclExample, "scope_method_mapping" | "scope_hierarchy">>;

function toExample(name: string, raw: RawAcl | undefined): AclExample {
  if (raw?.scope_method_mapping === undefined || raw.scope_method_mapping.length === 0) throw new Error(`the ${name} ACL example has no scope_method_mapping`);
  return { name, scope_method_mapping: raw.scope_method_mapping, scope_hierarchy: raw.scope_hierarchy ?? [] };
}

/** The text of the README section headed `heading` (up to the next heading of its level or above). */
function readmeSection(readme: string, heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`README.md has no section "${heading}"`);
  const level = heading.split(" ")[0] as string;
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level.length}} `));
  return end === -1 ? rest : rest.slice(0, end);
}

/** The ACL examples of README.md: The ACL's YAML, and the Admin API example's plugin config. */
function readmeExamples(): AclExample[] {
  const readme = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");
  const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(readmeSection(readme, "## The ACL"))?.[1];
  const adminApiBody = /<<'EOF'\n(\{"name": "mcp-oauth2"[\s\S]*?)\nEOF/.exec(readmeSection(readme, "### Enabling the plugin"))?.[1];
  if (yamlBlock === undefined || adminApiBody === undefined) throw new Error("README.md: the ACL examples moved; update spec/differential/acl-examples.ts");
  return [
    toExample("readme-acl", parseYaml(yamlBlock) as RawAcl),
    toExample("readme-admin-api", (JSON.parse(adminApiBody) as { config: RawAcl }).config),
  ];
}

/** The mcp-oauth2 plugin of kong/kong.yml. */
function kongYmlExample(): AclExample {
  const declarative = parseYaml(readFileSync(join(PROJECT_ROOT, "kong", "kong.yml"), "utf8")) as {
    services?: { routes?: { plugins?: { name: string; config: RawAcl }[] }[] }[];
  };
  const plugin = declarative.services?.flatMap((service) => service.routes ?? []).flatMap((route) => route.plugins ?? []).find((candidate) => candidate.name === "mcp-oauth2");
  return toExample("kong-yml", plugin?.config);
}

/** Item globs over the catalogue: a weather tool, the public files and prompt, and everything for admins. */
export const CATALOGUE_ACL: AclExample = {
  name: "catalogue",
  scope_method_mapping: [
    { scope: "mcp:basic", methods: ["initialize", "ping", "notifications/*", "tools/list", "resources/list", "resources/templates/list", "prompts/list"] },
    { scope: "mcp:weather", methods: ["tools/call:weather_*"] },
    {
      scope: "mcp:public",
      methods: ["resources/read:file:///srv/public/*", "resources/subscribe:file:///srv/public/*", "resources/unsubscribe:file:///srv/public/*", "prompts/get:public_*"],
    },
    { scope: "mcp:admin", methods: ["*"] },
  ],
  scope_hierarchy: [],
};

/** Every ACL the suite runs, the catalogue's first (the hostile corpus runs against it). */
export function loadAclExamples(): AclExample[] {
  return [CATALOGUE_ACL, ...readmeExamples(), kongYmlExample()];
}

/**
 * The scope sets tokens carry under an ACL: none, each scope the ACL names alone, all of them
 * together, and one it does not know.
 */
export function scopeSetsOf(example: AclExample): string[][] {
  const named = [...new Set([...example.scope_method_mapping.map(({ scope }) => scope), ...example.scope_hierarchy.map(({ scope }) => scope)])];
  return [[], ...named.map((scope) => [scope]), named, ["mcp:unmapped"]];
}
