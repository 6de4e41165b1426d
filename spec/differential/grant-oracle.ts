// Whether an ACL allows a token's scopes to run one handler, written from the README's rules
// alone, apart from the plugin's code: a second reading of the same configuration, so that a
// mistake in the plugin's matcher shows as a disagreement instead of being copied.
import type { AclExample } from "./acl-examples";

/** Methods whose handler runs on one item, and the params member that names it (README, The ACL). */
export const ITEM_METHODS: Readonly<Record<string, "name" | "uri">> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "resources/subscribe": "uri",
  "resources/unsubscribe": "uri",
};

/** `*` any run of characters (slashes included), `?` one UTF-16 code unit, the rest literal. */
function globToRegExp(glob: string): RegExp {
  const source = [...glob].map((character) => (character === "*" ? "[\\s\\S]*" : character === "?" ? "[\\s\\S]" : character.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"))).join("");
  // Without the u flag, [\s\S] is one UTF-16 code unit, as "?" means.
  return new RegExp(`^${source}$`);
}

type Rule = (method: string, item: string | undefined) => boolean;

function ruleOf(pattern: string): Rule {
  if (pattern === "*") return () => true;
  const separator = pattern.indexOf(":");
  const method = separator > 0 ? pattern.slice(0, separator) : undefined;
  if (method !== undefined && Object.hasOwn(ITEM_METHODS, method)) {
    const glob = globToRegExp(pattern.slice(separator + 1));
    return (called, item) => called === method && item !== undefined && glob.test(item);
  }
  if (pattern.endsWith("/*")) {
    const prefix = pattern.slice(0, -1);
    return (called) => called.startsWith(prefix);
  }
  return (called) => called === pattern;
}

/** The scopes `granted` stands for: itself and, through scope_hierarchy, everything it implies. */
function closeOverHierarchy(example: AclExample, granted: readonly string[]): Set<string> {
  const held = new Set(granted);
  let grew = true;
  while (grew) {
    grew = false;
    for (const { scope, implies } of example.scope_hierarchy) {
      if (!held.has(scope)) continue;
      for (const implied of implies) {
        if (!held.has(implied)) {
          held.add(implied);
          grew = true;
        }
      }
    }
  }
  return held;
}

/**
 * session_methods as the gate front configures it (the default, README, The ACL): allowed to a
 * token holding a scope the mapping names or a broader scope of the hierarchy.
 */
const SESSION_METHODS = ["initialize", "ping", "notifications/initialized", "notifications/cancelled", "server/discover"];

/** Decides, for one ACL, whether a token holding `scopes` may run `method` on `item`. */
export type GrantOracle = (scopes: readonly string[], method: string, item: string | undefined) => boolean;

export function createGrantOracle(example: AclExample): GrantOracle {
  const rules = example.scope_method_mapping.map(({ scope, methods }) => ({ scope, rules: methods.map(ruleOf) }));
  const known = new Set([...example.scope_method_mapping.map(({ scope }) => scope), ...example.scope_hierarchy.map(({ scope }) => scope)]);
  return (scopes, method, item) => {
    if (SESSION_METHODS.includes(method) && scopes.some((scope) => known.has(scope))) return true;
    const held = closeOverHierarchy(example, scopes);
    return rules.some((entry) => held.has(entry.scope) && entry.rules.some((rule) => rule(method, item)));
  };
}
