import { LRUCache } from "lru-cache";
import { checkScopeToken, ConfigError } from "./config-error";
import { ITEM_MEMBER, type JsonRpcCall } from "./json-rpc-calls";
import { isJsonObject } from "./unique-key-json";

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
  /** For Item patterns: the glob params.name / params.uri must match. */
  readonly itemGlob?: string;
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
  readonly items: ReadonlyMap<string, readonly string[]>;
}

export interface MethodAcl {
  readonly entries: readonly AclEntry[];
  /** Every scope named by the mapping. */
  readonly mappedScopes: ReadonlySet<string>;
  /** For each broader scope of `scope_hierarchy`, every scope it implies, transitively. */
  readonly implied: ReadonlyMap<string, ReadonlySet<string>>;
  /** `session_methods`: allowed to every token holding a scope the ACL knows. */
  readonly sessionPatterns: readonly MethodPattern[];
  /** Merged grants by sorted mapped-scope set; bounded, lives as long as the compiled policy. */
  readonly grants: LRUCache<string, Grant>;
}

const MAX_CACHED_GRANTS = 1024;

/**
 * Whether `item` matches `glob`: `*` matches any run of characters (slashes included), `?` one
 * (UTF-16 code unit); the rest is literal. Items are client-chosen: with several `*` in a glob, a
 * backtracking regular expression takes time polynomial in the item's length (minutes for a
 * megabyte); this greedy matcher only resumes after the last `*`, at most glob × item steps.
 */
function matchItemGlob(glob: string, item: string): boolean {
  let globIndex = 0;
  let itemIndex = 0;
  let lastStar = -1;
  let resumeAt = 0;
  while (itemIndex < item.length) {
    const expected = glob[globIndex];
    if (expected === "*") {
      lastStar = globIndex++;
      resumeAt = itemIndex;
    } else if (expected === "?" || expected === item[itemIndex]) {
      // Past the end of the glob, expected is undefined: neither "?" nor a character of the item.
      globIndex++;
      itemIndex++;
    } else if (lastStar !== -1) {
      globIndex = lastStar + 1;
      itemIndex = ++resumeAt;
    } else {
      return false;
    }
  }
  while (glob[globIndex] === "*") globIndex++;
  return globIndex === glob.length;
}

/** JSON-RPC method names as MCP spells them (tools/list, notifications/tools/list_changed, logging/setLevel). */
const METHOD_NAME = /^[A-Za-z0-9_$.-]+(\/[A-Za-z0-9_$.-]+)*$/;

function compilePattern(pattern: unknown, path: string): MethodPattern {
  if (typeof pattern !== "string" || pattern.length === 0) throw new ConfigError(path, "must be a non-empty string");
  if (pattern === "*") return { breadth: Breadth.Everything, method: "" };
  const separator = pattern.indexOf(":");
  if (separator > 0 && ITEM_MEMBER.has(pattern.slice(0, separator))) {
    const glob = pattern.slice(separator + 1);
    if (glob === "") throw new ConfigError(path, `'${pattern}' needs a glob after ':' (e.g. ${pattern}weather_*)`);
    return { breadth: Breadth.Item, method: pattern.slice(0, separator), itemGlob: glob };
  }
  if (pattern.endsWith("/*") && METHOD_NAME.test(pattern.slice(0, -2))) return { breadth: Breadth.MethodPrefix, method: pattern.slice(0, -1) };
  if (METHOD_NAME.test(pattern)) return { breadth: Breadth.Method, method: pattern };
  throw new ConfigError(
    path,
    `'${pattern}' is not a method pattern (use 'tools/list', 'notifications/*', '*', or '<method>:<glob>' for ${[...ITEM_MEMBER.keys()].join(", ")})`,
  );
}

/**
 * Closes `scope_hierarchy` ({scope, implies}[]) transitively: a broader scope implies everything
 * its implied scopes imply (MCP 2026-07-28 scope hierarchies). A cycle is a ConfigError.
 */
function compileScopeHierarchy(rawEntries: readonly unknown[]): Map<string, Set<string>> {
  const direct = new Map<string, string[]>();
  rawEntries.forEach((raw, index) => {
    const path = `scope_hierarchy[${index + 1}]`;
    if (!isJsonObject(raw)) throw new ConfigError(path, "must be a record");
    const { scope, implies } = raw;
    const broader = checkScopeToken(scope, `${path}.scope`);
    const narrower = (Array.isArray(implies) ? implies : []).map((implied, position) => checkScopeToken(implied, `${path}.implies[${position + 1}]`));
    if (narrower.length === 0) throw new ConfigError(`${path}.implies`, "needs at least one scope");
    direct.set(broader, [...(direct.get(broader) ?? []), ...narrower]);
  });
  const closed = new Map<string, Set<string>>();
  const close = (scope: string, trail: string[]): Set<string> => {
    if (trail.includes(scope)) throw new ConfigError("scope_hierarchy", `cycle: ${[...trail, scope].join(" -> ")} (a scope cannot imply itself)`);
    const known = closed.get(scope);
    if (known !== undefined) return known;
    const implied = new Set<string>();
    for (const narrower of direct.get(scope) ?? []) {
      implied.add(narrower);
      for (const further of close(narrower, [...trail, scope])) implied.add(further);
    }
    closed.set(scope, implied);
    return implied;
  };
  // Keyed by broader scopes only: a scope that implies nothing is not one the hierarchy knows.
  return new Map([...direct.keys()].map((scope) => [scope, close(scope, [])]));
}

/**
 * Compiles `scope_method_mapping` ({scope, methods}[]), `scope_hierarchy` and `session_methods`
 * (method patterns) into an ACL. Permissions are additive: a call is allowed when any granted
 * scope, or a scope it implies, has a pattern matching it, or when it is a session method and the
 * token holds any scope the ACL knows. Throws ConfigError.
 */
export function compileMethodAcl(rawEntries: readonly unknown[], rawHierarchy: readonly unknown[] = [], rawSessionMethods: readonly unknown[] = []): MethodAcl {
  const entries = rawEntries.map((raw, index): AclEntry => {
    const path = `scope_method_mapping[${index + 1}]`;
    if (!isJsonObject(raw)) throw new ConfigError(path, "must be a record");
    const { scope, methods } = raw;
    const patterns = Array.isArray(methods) ? methods : [];
    if (patterns.length === 0) throw new ConfigError(`${path}.methods`, "needs at least one method pattern");
    return {
      scope: checkScopeToken(scope, `${path}.scope`),
      patterns: patterns.map((pattern, position) => compilePattern(pattern, `${path}.methods[${position + 1}]`)),
    };
  });
  return {
    entries,
    mappedScopes: new Set(entries.map((entry) => entry.scope)),
    implied: compileScopeHierarchy(rawHierarchy),
    sessionPatterns: rawSessionMethods.map((pattern, position) => compilePattern(pattern, `session_methods[${position + 1}]`)),
    grants: new LRUCache({ max: MAX_CACHED_GRANTS }),
  };
}

/** Whether the ACL knows `scope`: the mapping names it, or the hierarchy makes it imply others. */
function isKnownScope(acl: MethodAcl, scope: string): boolean {
  return acl.mappedScopes.has(scope) || acl.implied.has(scope);
}

/** The granted scopes with everything they imply. */
function expandScopes(acl: MethodAcl, grantedScopes: readonly string[]): Set<string> {
  const expanded = new Set(grantedScopes);
  for (const scope of grantedScopes) for (const implied of acl.implied.get(scope) ?? []) expanded.add(implied);
  return expanded;
}

/** Whether the call names an item that `matches` accepts as sent and, for a resolved resource URI, as resolved too. */
function allowsItem(call: JsonRpcCall, matches: (item: string) => boolean): boolean {
  return call.item !== undefined && matches(call.item) && (call.resolvedItem === undefined || matches(call.resolvedItem));
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
      return call.method === pattern.method && allowsItem(call, (item) => matchItemGlob(pattern.itemGlob!, item));
  }
}

/** The patterns of the held mapped scopes, and the session methods when `inSession`, merged. */
function mergeGrant(acl: MethodAcl, scopes: ReadonlySet<string>, inSession: boolean): Grant {
  const methods = new Set<string>();
  const prefixes: string[] = [];
  const items = new Map<string, string[]>();
  let everything = false;
  const patterns = [...acl.entries.filter((entry) => scopes.has(entry.scope)).flatMap((entry) => entry.patterns), ...(inSession ? acl.sessionPatterns : [])];
  for (const pattern of patterns) {
    if (pattern.breadth === Breadth.Everything) everything = true;
    else if (pattern.breadth === Breadth.MethodPrefix) prefixes.push(pattern.method);
    else if (pattern.breadth === Breadth.Method) methods.add(pattern.method);
    else items.set(pattern.method, [...(items.get(pattern.method) ?? []), pattern.itemGlob!]);
  }
  return { everything, methods, prefixes, items };
}

function lookUpGrant(acl: MethodAcl, grantedScopes: readonly string[]): Grant {
  const held = [...expandScopes(acl, grantedScopes)].filter((scope) => acl.mappedScopes.has(scope)).sort();
  // A session can start with any scope the ACL knows, including a broader one that maps nothing.
  const inSession = grantedScopes.some((scope) => isKnownScope(acl, scope));
  const key = `${inSession ? "session" : "none"} ${held.join(" ")}`;
  let grant = acl.grants.get(key);
  if (grant === undefined) {
    grant = mergeGrant(acl, new Set(held), inSession);
    acl.grants.set(key, grant);
  }
  return grant;
}

/** Whether the grant allows `method` whatever item a call names. */
function grantAllowsEveryItem(grant: Grant, method: string): boolean {
  return grant.everything || grant.methods.has(method) || grant.prefixes.some((prefix) => method.startsWith(prefix));
}

/**
 * Whether the item `call` names matches one of `globs`, as the ACL judges items: a resource URI
 * as sent and, when a WHATWG parser resolves it differently, as resolved too.
 */
export function matchesItemGlobs(globs: readonly string[], call: JsonRpcCall): boolean {
  return allowsItem(call, (item) => globs.some((glob) => matchItemGlob(glob, item)));
}

function grantAllows(grant: Grant, call: JsonRpcCall): boolean {
  if (grantAllowsEveryItem(grant, call.method)) return true;
  const globs = grant.items.get(call.method);
  return globs !== undefined && matchesItemGlobs(globs, call);
}

/** Which items of a method a token may name: every one, or those matching the globs (none when empty). */
export type ItemGrant = "all" | readonly string[];

/** The items the granted scopes allow for each of `methods` (e.g. tools/call), exactly as the ACL decides. */
export function describeItemGrants<Method extends string>(acl: MethodAcl, grantedScopes: readonly string[], methods: readonly Method[]): Record<Method, ItemGrant> {
  const grant = lookUpGrant(acl, grantedScopes);
  return Object.fromEntries(methods.map((method) => [method, grantAllowsEveryItem(grant, method) ? "all" : (grant.items.get(method) ?? [])])) as Record<Method, ItemGrant>;
}

/**
 * Whether the granted scopes allow any call at all: a scope they hold or imply is one the mapping
 * names, or one the ACL knows opens a session (session_methods).
 */
export function grantsAnything(acl: MethodAcl, grantedScopes: readonly string[]): boolean {
  const { everything, methods, prefixes, items } = lookUpGrant(acl, grantedScopes);
  return everything || methods.size > 0 || prefixes.length > 0 || items.size > 0;
}

/** The calls that none of the granted scopes allows. */
export function findDeniedCalls(acl: MethodAcl, grantedScopes: readonly string[], calls: readonly JsonRpcCall[]): JsonRpcCall[] {
  const grant = lookUpGrant(acl, grantedScopes);
  return calls.filter((call) => !grantAllows(grant, call));
}

/**
 * The narrowest configured scope allowing `call`: the entry whose best matching pattern is
 * narrowest, ties to the entry with fewer patterns, then to the first configured. Only entries
 * of `among` count when it is given. Undefined when no such scope allows the call.
 */
export function findNarrowestScope(acl: MethodAcl, call: JsonRpcCall, among?: ReadonlySet<string>): string | undefined {
  let best: { scope: string; breadth: Breadth; size: number } | undefined;
  for (const entry of acl.entries) {
    if (among !== undefined && !among.has(entry.scope)) continue;
    let breadth: Breadth | undefined;
    // Every mapped scope allows the session methods.
    for (const pattern of [...entry.patterns, ...acl.sessionPatterns]) {
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
 * For each call, the mapped scope that let it through: the narrowest among the granted scopes and
 * those they imply; undefined for a call they do not allow.
 */
export function findGrantingScopes(acl: MethodAcl, grantedScopes: readonly string[], calls: readonly JsonRpcCall[]): (string | undefined)[] {
  const held = expandScopes(acl, grantedScopes);
  return calls.map((call) => findNarrowestScope(acl, call, held));
}

/**
 * For each call, its narrowest sufficient scope; empty when some call no configured scope allows
 * (asking for a login then cannot help).
 */
export function findSufficientScopes(acl: MethodAcl, calls: readonly JsonRpcCall[]): string[] {
  const needed = new Set<string>();
  for (const call of calls) {
    const scope = findNarrowestScope(acl, call);
    if (scope === undefined) return [];
    needed.add(scope);
  }
  return [...needed];
}

/**
 * The `scope` of an insufficient_scope challenge (RFC 6750 §3.1) for the denied calls: their
 * narrowest sufficient scopes, then the scopes the token already holds that the ACL knows
 * (clients such as the MCP TypeScript SDK replace their scope set on step-up and would lose
 * them). Empty when some denied call no configured scope allows.
 */
export function findStepUpScopes(acl: MethodAcl, deniedCalls: readonly JsonRpcCall[], grantedScopes: readonly string[]): string[] {
  const needed = findSufficientScopes(acl, deniedCalls);
  if (needed.length === 0) return [];
  return [...new Set([...needed, ...grantedScopes.filter((scope) => isKnownScope(acl, scope))])];
}

/** Whether `call` is a session method (`session_methods`), which any scope the ACL knows allows. */
export function isSessionCall(acl: MethodAcl, call: JsonRpcCall): boolean {
  return acl.sessionPatterns.some((pattern) => matchesCall(pattern, call));
}
