import { checkScopeToken, ConfigError } from "./config-error";
import { ITEM_MEMBER, type JsonRpcCall } from "./json-rpc-calls";

/**
 * How narrow a method pattern is, narrowest first: one naming items (`tools/call:weather_*`),
 * an exact method (`tools/call`), a method prefix (`tools/*`), everything (`*`).
 */
const enum Breadth {
  Item = 0,
  Method = 1,
  MethodPrefix = 2,
  Everything = 3,
}

interface MethodPattern {
  readonly breadth: Breadth;
  /** The method (Item, Method) or method prefix (MethodPrefix) the pattern names. */
  readonly method: string;
  /** For Item patterns: matches params.name / params.uri. */
  readonly item?: RegExp;
}

interface AclEntry {
  readonly scope: string;
  readonly patterns: readonly MethodPattern[];
}

/** What a set of granted scopes allows, merged for one lookup per call. */
interface Grant {
  readonly everything: boolean;
  readonly methods: ReadonlySet<string>;
  readonly prefixes: readonly string[];
  readonly items: ReadonlyMap<string, readonly RegExp[]>;
}

export interface MethodAcl {
  readonly entries: readonly AclEntry[];
  /** Every scope named by the mapping. */
  readonly mappedScopes: ReadonlySet<string>;
  /** Merged grants by sorted mapped-scope set; bounded, lives as long as the compiled policy. */
  readonly grants: Map<string, Grant>;
}

const MAX_CACHED_GRANTS = 1024;

/** `*` matches any run of characters (slashes included), `?` one character; the rest is literal. */
function compileItemGlob(glob: string): RegExp {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[\\s\\S]*").replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${source}$`);
}

function compilePattern(pattern: unknown, path: string): MethodPattern {
  if (typeof pattern !== "string" || pattern.length === 0) throw new ConfigError(path, "must be a non-empty string");
  if (pattern === "*") return { breadth: Breadth.Everything, method: "" };
  const separator = pattern.indexOf(":");
  if (separator > 0 && ITEM_MEMBER[pattern.slice(0, separator)] !== undefined && separator < pattern.length - 1) {
    return { breadth: Breadth.Item, method: pattern.slice(0, separator), item: compileItemGlob(pattern.slice(separator + 1)) };
  }
  if (pattern.endsWith("/*") && !pattern.slice(0, -1).includes("*")) {
    return { breadth: Breadth.MethodPrefix, method: pattern.slice(0, -1) };
  }
  if (!pattern.includes("*") && !/\s/.test(pattern)) return { breadth: Breadth.Method, method: pattern };
  throw new ConfigError(
    path,
    `'${pattern}' is not a method pattern (use 'tools/list', 'notifications/*', '*', or 'tools/call:<glob>', 'resources/read:<glob>', 'prompts/get:<glob>')`,
  );
}

/**
 * Compiles `scope_method_mapping` ({scope, methods}[]) into an ACL. Permissions are additive:
 * a call is allowed when any granted scope has a pattern matching it. Throws ConfigError.
 */
export function compileMethodAcl(rawEntries: readonly unknown[]): MethodAcl {
  const entries = rawEntries.map((raw, index): AclEntry => {
    const path = `scope_method_mapping[${index + 1}]`;
    if (typeof raw !== "object" || raw === null) throw new ConfigError(path, "must be a record");
    const { scope, methods } = raw as { scope?: unknown; methods?: unknown };
    const patterns = Array.isArray(methods) ? methods : [];
    if (patterns.length === 0) throw new ConfigError(`${path}.methods`, "needs at least one method pattern");
    return {
      scope: checkScopeToken(scope, `${path}.scope`),
      patterns: patterns.map((pattern, position) => compilePattern(pattern, `${path}.methods[${position + 1}]`)),
    };
  });
  return { entries, mappedScopes: new Set(entries.map((entry) => entry.scope)), grants: new Map() };
}

function matchesCall(pattern: MethodPattern, call: JsonRpcCall): boolean {
  switch (pattern.breadth) {
    case Breadth.Everything:
      return true;
    case Breadth.MethodPrefix:
      return call.method.startsWith(pattern.method);
    case Breadth.Method:
      return call.method === pattern.method;
    case Breadth.Item:
      return call.method === pattern.method && call.item !== undefined && pattern.item!.test(call.item);
  }
}

function mergeGrant(acl: MethodAcl, scopes: ReadonlySet<string>): Grant {
  const methods = new Set<string>();
  const prefixes: string[] = [];
  const items = new Map<string, RegExp[]>();
  let everything = false;
  for (const entry of acl.entries) {
    if (!scopes.has(entry.scope)) continue;
    for (const pattern of entry.patterns) {
      if (pattern.breadth === Breadth.Everything) everything = true;
      else if (pattern.breadth === Breadth.MethodPrefix) prefixes.push(pattern.method);
      else if (pattern.breadth === Breadth.Method) methods.add(pattern.method);
      else items.set(pattern.method, [...(items.get(pattern.method) ?? []), pattern.item!]);
    }
  }
  return { everything, methods, prefixes, items };
}

function lookUpGrant(acl: MethodAcl, grantedScopes: readonly string[]): Grant {
  const held = [...new Set(grantedScopes.filter((scope) => acl.mappedScopes.has(scope)))].sort();
  const key = held.join(" ");
  let grant = acl.grants.get(key);
  if (grant === undefined) {
    grant = mergeGrant(acl, new Set(held));
    if (acl.grants.size >= MAX_CACHED_GRANTS) acl.grants.delete(acl.grants.keys().next().value!);
    acl.grants.set(key, grant);
  }
  return grant;
}

function grantAllows(grant: Grant, call: JsonRpcCall): boolean {
  if (grant.everything || grant.methods.has(call.method)) return true;
  if (grant.prefixes.some((prefix) => call.method.startsWith(prefix))) return true;
  const item = call.item;
  return item !== undefined && (grant.items.get(call.method)?.some((glob) => glob.test(item)) ?? false);
}

/** The calls that none of the granted scopes allows. */
export function findDeniedCalls(acl: MethodAcl, grantedScopes: readonly string[], calls: readonly JsonRpcCall[]): JsonRpcCall[] {
  const grant = lookUpGrant(acl, grantedScopes);
  return calls.filter((call) => !grantAllows(grant, call));
}

/**
 * The narrowest configured scope allowing `call`: the entry whose best matching pattern is
 * narrowest, ties to the entry with fewer patterns, then to the first configured. Undefined
 * when no configured scope allows the call.
 */
export function findNarrowestScope(acl: MethodAcl, call: JsonRpcCall): string | undefined {
  let best: { scope: string; breadth: Breadth; size: number } | undefined;
  for (const entry of acl.entries) {
    let breadth: Breadth | undefined;
    for (const pattern of entry.patterns) {
      if (matchesCall(pattern, call) && (breadth === undefined || pattern.breadth < breadth)) breadth = pattern.breadth;
    }
    if (breadth === undefined) continue;
    const size = entry.patterns.length;
    if (best === undefined || breadth < best.breadth || (breadth === best.breadth && size < best.size)) {
      best = { scope: entry.scope, breadth, size };
    }
  }
  return best?.scope;
}

/**
 * The `scope` of an insufficient_scope challenge (RFC 6750 §3.1) for the denied calls: for each,
 * its narrowest sufficient scope, then the mapped scopes the token already holds (clients such as
 * the MCP TypeScript SDK replace their scope set on step-up and would lose those). Empty when some
 * denied call no configured scope allows: asking for a login then cannot help.
 */
export function findStepUpScopes(acl: MethodAcl, deniedCalls: readonly JsonRpcCall[], grantedScopes: readonly string[]): string[] {
  const needed = new Set<string>();
  for (const call of deniedCalls) {
    const scope = findNarrowestScope(acl, call);
    if (scope === undefined) return [];
    needed.add(scope);
  }
  for (const scope of grantedScopes) if (acl.mappedScopes.has(scope)) needed.add(scope);
  return [...needed];
}
