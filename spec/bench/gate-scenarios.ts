// The scenarios `npm run bench` measures: mcp-oauth2 on the paths that matter (allowed with a
// cached token, cache misses per algorithm, opaque tokens introspected, refusals), the floor
// plugin, growth of the config and of the token cache, the stock plugin server, and the list
// filter on the demo's 22 tools.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { DEMO_ACL } from "../../demo/local-stack";
import { registerDemoCatalog } from "../../demo/mcp-catalog";
import { builtPluginsDirectory, type ConsumerEntity, type KongRequest, type Outcome, type PluginServerImplementation, type ServiceResponse, type UpstreamCall } from "../../kong/driver";
import { IntrospectionServer } from "../support/introspection-server";
import { JwksServer } from "../support/jwks-server";
import { createSigningKey, type TestSigningKey } from "../support/token-factory";
import { createFloorPluginDirectory, floorConfig } from "./floor-plugin";
import { signTokenPool } from "./token-pool";

/** How much work each scenario gets. */
export interface ScenarioSizes {
  /** Requests before the first measured round (JIT, caches, V8 heap sizing). */
  readonly warmup: number;
  /** Measured requests per round. */
  readonly requests: number;
  readonly rounds: number;
  /** Distinct tokens for the token-cache growth and memory scenarios. */
  readonly distinctTokens: number;
}

/** One configuration of one plugin server, driven with one kind of request. */
export interface Scenario {
  /** Short name used by the ratios and targets. */
  readonly id: string;
  readonly label: string;
  readonly server: PluginServerImplementation;
  readonly pluginsDirectory: string;
  readonly config: Record<string, unknown>;
  /** Request number `index` of the scenario's life: warm-up first, then every round. */
  request(index: number): KongRequest;
  /** Why an outcome is not the one the scenario measures; undefined when it is. */
  check(outcome: Outcome): string | undefined;
  /** Requests before the first round. */
  readonly warmup: number;
  /** Warm-up request counts after which the plugin server's RSS is read. */
  readonly rssCheckpoints: readonly number[];
  /** False: only the warm-up runs (a memory scenario), the server stops after it. */
  readonly measured: boolean;
  /** Kong's consumers table (empty unless the scenario identifies consumers). */
  readonly consumers: readonly ConsumerEntity[];
  /** mcp-oauth2-list-filter on the route too, on a plugin server of its own. */
  readonly listFilter?: true;
  /** Answers the requests Kong buffers (without it the driver stops after the access phase). */
  readonly upstream?: UpstreamCall;
}

/**
 * Two scenarios measured back to back in every round (in alternating order), so that their
 * throughput ratio is taken under the same machine load. `minimum`: the target, if there is one.
 */
export interface Comparison {
  readonly a: string;
  readonly b: string;
  readonly what: string;
  readonly minimum?: number;
}

/** Everything the scenarios share; `close` frees it. */
export interface ScenarioSet {
  readonly scenarios: readonly Scenario[];
  readonly comparisons: readonly Comparison[];
  close(): Promise<void>;
}

/** What the bench compares; the targets are the project's. */
const COMPARISONS: readonly Comparison[] = [
  { a: "allowed", b: "floor", what: "scenario 1 / floor", minimum: 0.9 },
  { a: "acl-off", b: "floor", what: "scenario 2 / floor" },
  { a: "miss-RS256", b: "floor", what: "scenario 3 RS256 / floor", minimum: 0.8 },
  { a: "miss-ES256", b: "floor", what: "scenario 3 ES256 / floor" },
  { a: "miss-EdDSA", b: "floor", what: "scenario 3 EdDSA / floor" },
  { a: "401", b: "floor", what: "401 / floor" },
  { a: "403", b: "floor", what: "403 / floor" },
  { a: "401-nested", b: "floor", what: "401, 1 MiB nested body / floor" },
  { a: "400-nested", b: "floor", what: "400, 1 MiB nested body, valid token / floor" },
  { a: "consumer-logged", b: "allowed", what: "consumer_claim + log_decisions / scenario 1" },
  { a: "10-servers", b: "allowed", what: "10 / 1 authorization servers", minimum: 0.9 },
  { a: "200-mappings", b: "1-mapping", what: "200 / 1 scope mappings", minimum: 0.9 },
  { a: "all-cached", b: "1-cached", what: "all distinct tokens cached / 1 cached token", minimum: 0.9 },
  { a: "allowed", b: "stock-allowed", what: "our entry / stock, scenario 1", minimum: 1 },
  { a: "401", b: "stock-401", what: "our entry / stock, 401", minimum: 1 },
  { a: "floor", b: "stock-floor", what: "our entry / stock, floor plugin" },
  { a: "opaque-cached", b: "allowed", what: "cached opaque token / cached JWT" },
  { a: "opaque-miss", b: "floor", what: "introspection miss / floor" },
  { a: "opaque-miss", b: "miss-RS256", what: "introspection miss / RS256 miss" },
  { a: "lists-filtered", b: "lists-unfiltered", what: "tools/list of 22, 2 removed (JSON) / unfiltered" },
  { a: "lists-filtered-sse", b: "lists-unfiltered", what: "tools/list of 22, 2 removed (SSE) / unfiltered" },
  { a: "lists-whole", b: "lists-unfiltered", what: "tools/list of 22, none removed / unfiltered" },
  { a: "filter-lists-call", b: "allowed", what: "scenario 1 with filter_lists / without" },
];

/** Requests a scenario takes over the warm-up and every round of its comparisons. */
function countRequests(id: string, sizes: ScenarioSizes): number {
  const samplesPerRound = COMPARISONS.filter((comparison) => comparison.a === id || comparison.b === id).length;
  return sizes.warmup + sizes.rounds * samplesPerRound * sizes.requests;
}

const RESOURCE = "https://mcp.example.com/mcp";
const TOKEN_HEADER = "Authorization";
const MAX_BODY_SIZE = 1_048_576;
/** Longer than any run: every cached verdict stays valid until the bench ends. */
const TOKEN_LIFETIME_SECONDS = 7_200;
const TOKEN_CACHE_TTL_SECONDS = 3_600;
const GRANTED_SCOPES = "mcp:tools mcp:resources";

/** A tools/call as an MCP client posts it (Streamable HTTP, protocol 2025-06-18). */
const TOOLS_CALL_BODY = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "echo", arguments: { text: "hello" } } });

const TOOLS_SCOPE_METHODS = ["initialize", "ping", "notifications/*", "tools/list", "tools/call:echo*"];
const THREE_MAPPINGS = [
  { scope: "mcp:tools", methods: TOOLS_SCOPE_METHODS },
  { scope: "mcp:resources", methods: ["resources/*"] },
  { scope: "mcp:prompts", methods: ["prompts/*"] },
];

/** A tools/call whose arguments nest half a million arrays (about 1 MB): refused past 64 levels. */
const NESTED_BODY = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "echo", arguments: { text: "RAW" } } }).replace(
  '"RAW"',
  `${"[".repeat(500_000)}${"]".repeat(500_000)}`,
);

function postToolsCall(token: string | undefined, body = TOOLS_CALL_BODY): KongRequest {
  return {
    method: "POST",
    path: "/mcp",
    headers: [
      ["Host", "mcp.example.com"],
      ...(token === undefined ? [] : [[TOKEN_HEADER, `Bearer ${token}`] as [string, string]]),
      ["Content-Type", "application/json"],
      ["Content-Length", String(Buffer.byteLength(body))],
      ["Accept", "application/json, text/event-stream"],
      ["Mcp-Protocol-Version", "2025-06-18"],
      ["Mcp-Session-Id", "5f0c3a8e-bench-session"],
      ["User-Agent", "mcp-oauth2-bench"],
    ],
    body,
  };
}

/** A tools/list as the MCP SDK client posts it. */
const TOOLS_LIST_BODY = JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list", params: {} });

/** The demo server's 22 tools: the tools/list result an MCP SDK client gets from `npm start`'s MCP server. */
async function listDemoTools(): Promise<unknown> {
  const server = new McpServer({ name: "bench", version: "1.0.0" });
  registerDemoCatalog(server, { countSessions: () => 1 });
  const client = new Client({ name: "bench", version: "1.0.0" });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  const result = await client.listTools();
  await client.close();
  return result;
}

/** The upstream's answer to TOOLS_LIST_BODY, as JSON or as one SSE event like the TypeScript SDK's. */
function answerToolsList(result: unknown, eventStream: boolean): UpstreamCall {
  return async (request) => {
    // The id the list request reached the upstream under: the gateway's, when the list is filtered.
    const id = request.body === undefined ? 3 : (JSON.parse(request.body.toString()) as { id: unknown }).id;
    const message = JSON.stringify({ jsonrpc: "2.0", id, result });
    const body = Buffer.from(eventStream ? `event: message\nid: 1\ndata: ${message}\n\n` : message);
    const response: ServiceResponse = { status: 200, headers: [["Content-Type", eventStream ? "text/event-stream" : "application/json"], ["Mcp-Session-Id", "5f0c3a8e-bench-session"]], body };
    return response;
  };
}

/** The list filter answered the client's id 3 with `tools` tools (2 removed: admin_*), read from JSON or SSE. */
function expectListed(tools: number): (outcome: Outcome) => string | undefined {
  return (outcome) => {
    const problem = expectAllowed(outcome);
    if (problem !== undefined || outcome.kind !== "proceed") return problem;
    if (outcome.response?.source !== "plugin") return `expected the list filter's answer, got ${outcome.response?.source ?? "no response phase"}`;
    const text = outcome.response.body.toString("utf8");
    const message = text.startsWith("{") ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? "");
    const { id, result } = JSON.parse(message) as { id: unknown; result: { tools: unknown[] } };
    if (id !== 3) return `expected the client's id 3, got ${JSON.stringify(id)}`;
    return result.tools.length === tools ? undefined : `expected ${tools} tools, got ${result.tools.length}`;
  };
}

function expectAllowed(outcome: Outcome): string | undefined {
  if (outcome.kind !== "proceed") return `expected the request to proceed, got ${outcome.status} from ${outcome.source}: ${outcome.body.toString("utf8")}`;
  if (!outcome.verified) return "proceeded without kong.ctx.shared.mcp_oauth2";
  if (outcome.upstreamRequest.headers.some(([name]) => name.toLowerCase() === TOKEN_HEADER.toLowerCase())) return "the token reached the upstream";
  return undefined;
}

function expectRefusal(status: number): (outcome: Outcome) => string | undefined {
  return (outcome) =>
    outcome.kind === "exit" && outcome.source === "plugin" && outcome.status === status
      ? undefined
      : `expected the plugin's ${status}, got ${outcome.kind === "exit" ? `${outcome.status} from ${outcome.source}` : "a proceed"}`;
}

/** A JWKS server with one key per algorithm, and the plugin directories both servers load. */
async function prepareKeys(): Promise<{ jwks: JwksServer; keys: Record<"RS256" | "ES256" | "EdDSA", TestSigningKey> }> {
  const keys = {
    RS256: await createSigningKey("RS256", "bench-rs256"),
    ES256: await createSigningKey("ES256", "bench-es256"),
    EdDSA: await createSigningKey("EdDSA", "bench-eddsa"),
  };
  return { jwks: await JwksServer.start(Object.values(keys).map((key) => key.publicJwk)), keys };
}

/** A value made on first use, then kept: a token pool only the selected scenarios sign. */
function makeOnFirstUse<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/**
 * Builds the scenarios `selected` keeps (all without it), signing their token pools now, before
 * anything is timed: the pools of scenarios left out are never signed. The real plugin is served
 * from dist/plugins (absolute: the stock server needs it), the floor from a temporary directory.
 */
export async function defineScenarios(sizes: ScenarioSizes, selected?: ReadonlySet<string>): Promise<ScenarioSet> {
  const { jwks, keys } = await prepareKeys();
  const introspection = await IntrospectionServer.start();
  const floorDirectory = createFloorPluginDirectory();
  const pluginsDirectory = builtPluginsDirectory();
  const issuer = `${jwks.url}/realms/bench`;
  const claims = { issuer, audience: RESOURCE, scope: GRANTED_SCOPES, expiresInSeconds: TOKEN_LIFETIME_SECONDS };
  const cachedToken = makeOnFirstUse(() => signTokenPool(keys.RS256, 1, claims)[0] as string);
  const readOnlyToken = makeOnFirstUse(() => signTokenPool(keys.RS256, 1, { ...claims, scope: "mcp:resources" })[0] as string);
  const distinctTokens = makeOnFirstUse(() => signTokenPool(keys.EdDSA, sizes.distinctTokens, claims));
  const opaqueClaims = { aud: RESOURCE, scope: GRANTED_SCOPES, sub: "user-0", exp: Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_SECONDS };
  const issueOpaqueTokens = (count: number) => Array.from({ length: count }, () => introspection.issue(opaqueClaims));
  const cachedOpaqueToken = makeOnFirstUse(() => issueOpaqueTokens(1)[0] as string);

  /** What mcp-oauth2 sets in kong.ctx.shared for the cached token: the floor sets the same. */
  const identity = { subject: "user-0", issuer, client_id: "mcp-client", scopes: GRANTED_SCOPES.split(" ") };
  const base = {
    authorization_servers: [{ url: issuer, issuer, audience: RESOURCE }],
    resource: RESOURCE,
    scopes_supported: ["mcp:tools", "mcp:resources", "mcp:prompts"],
    enable_acl: true,
    scope_method_mapping: THREE_MAPPINGS,
    token_cache_ttl: TOKEN_CACHE_TTL_SECONDS,
  };
  const plain = { pluginsDirectory, warmup: sizes.warmup, rssCheckpoints: [], measured: true, consumers: [] };
  const withToken = (token: () => string) => () => postToolsCall(token());
  const everyTokenOnce = (pool: () => readonly string[]) => (index: number) => {
    const tokens = pool();
    return postToolsCall(tokens[index % tokens.length]);
  };
  const tokensSeen = (fractions: readonly number[]) => fractions.map((fraction) => Math.round(fraction * sizes.distinctTokens));
  const cacheMiss = (algorithm: keyof typeof keys): Scenario => ({
    ...plain,
    id: `miss-${algorithm}`,
    label: `3. cache miss, fresh ${algorithm} token per request`,
    server: "ours",
    config: base,
    request: everyTokenOnce(makeOnFirstUse(() => signTokenPool(keys[algorithm], countRequests(`miss-${algorithm}`, sizes), claims))),
    check: expectAllowed,
  });
  // The JWT server of `base`, and an introspecting one for opaque tokens on 127.0.0.1.
  const withIntrospection = {
    ...base,
    authorization_servers: [
      ...base.authorization_servers,
      { url: introspection.url, audience: RESOURCE, introspection: "opaque", introspection_endpoint: "/introspect", client_id: introspection.clientId, client_secret: introspection.clientSecret },
    ],
  };
  const otherServers = Array.from({ length: 9 }, (_, index) => ({ url: `${jwks.url}/realms/other-${index}`, audience: RESOURCE }));
  const fillerMappings = Array.from({ length: 199 }, (_, index) => ({ scope: `mcp:extra-${index}`, methods: [`tools/call:extra_${index}_*`] }));
  const cacheForAllTokens = { ...base, token_cache_size: sizes.distinctTokens };
  // 10000 (the default) for the default 100,000 tokens: the cache holds a tenth of what it sees.
  const boundedCacheSize = Math.max(1, Math.round(sizes.distinctTokens / 10));

  const demoTools = await listDemoTools();
  const memberToken = makeOnFirstUse(() => signTokenPool(keys.RS256, 1, { ...claims, scope: "mcp:tools" })[0] as string);
  /** The demo's ACL (members: every tool but admin_*), with the list filter on the route. */
  const demoLists = { ...base, scope_method_mapping: [...DEMO_ACL.scope_method_mapping], filter_lists: true };
  const listTools = (token: () => string) => () => postToolsCall(token(), TOOLS_LIST_BODY);
  const listFiltered = { ...plain, server: "ours" as const, listFilter: true as const, config: demoLists };

  const scenarios: Scenario[] = [
    {
      ...plain,
      id: "floor",
      label: "5. floor: same 5 PDK calls, no work",
      server: "ours",
      pluginsDirectory: floorDirectory.path,
      config: floorConfig(identity, MAX_BODY_SIZE, TOKEN_HEADER),
      request: withToken(cachedToken),
      check: expectAllowed,
    },
    { ...plain, id: "allowed", label: "1. allowed, cached token, ACL on", server: "ours", config: base, request: withToken(cachedToken), check: expectAllowed },
    { ...plain, id: "acl-off", label: "2. allowed, cached token, ACL off", server: "ours", config: { ...base, enable_acl: false }, request: withToken(cachedToken), check: expectAllowed },
    cacheMiss("RS256"),
    cacheMiss("ES256"),
    cacheMiss("EdDSA"),
    { ...plain, id: "401", label: "4. 401, no token", server: "ours", config: base, request: () => postToolsCall(undefined), check: expectRefusal(401) },
    { ...plain, id: "403", label: "4. 403, ACL denies tools/call", server: "ours", config: base, request: withToken(readOnlyToken), check: expectRefusal(403) },
    { ...plain, id: "401-nested", label: "4. 401, no token, 1 MiB nested body", server: "ours", config: base, request: () => postToolsCall(undefined, NESTED_BODY), check: expectRefusal(401) },
    {
      ...plain,
      id: "400-nested",
      label: "4. 400, valid token, 1 MiB nested body",
      server: "ours",
      config: base,
      request: () => postToolsCall(cachedToken(), NESTED_BODY),
      check: expectRefusal(400),
    },
    {
      ...plain,
      id: "consumer-logged",
      label: "8. as 1, consumer by azp (cached), log_decisions",
      server: "ours",
      config: { ...base, consumer_claim: ["azp"], log_decisions: true },
      consumers: [{ id: "3e1f5d2c-7b8a-4c9d-8e0f-1a2b3c4d5e6f", username: identity.client_id }],
      request: withToken(cachedToken),
      check: expectAllowed,
    },
    {
      ...plain,
      id: "10-servers",
      label: "6. as 1, 10 authorization servers",
      server: "ours",
      config: { ...base, authorization_servers: [...otherServers, ...base.authorization_servers] },
      request: withToken(cachedToken),
      check: expectAllowed,
    },
    {
      ...plain,
      id: "1-mapping",
      label: "6. as 1, 1 scope mapping",
      server: "ours",
      config: { ...base, scope_method_mapping: THREE_MAPPINGS.slice(0, 1) },
      request: withToken(cachedToken),
      check: expectAllowed,
    },
    {
      ...plain,
      id: "200-mappings",
      label: "6. as 1, 200 scope mappings",
      server: "ours",
      config: { ...base, scope_method_mapping: [...fillerMappings, THREE_MAPPINGS[0]] },
      request: withToken(cachedToken),
      check: expectAllowed,
    },
    {
      ...plain,
      id: "1-cached",
      label: "6. 1 cached EdDSA token",
      server: "ours",
      config: cacheForAllTokens,
      request: withToken(() => distinctTokens()[0] as string),
      check: expectAllowed,
    },
    {
      ...plain,
      id: "all-cached",
      label: `6. ${sizes.distinctTokens.toLocaleString("en")} cached EdDSA tokens`,
      server: "ours",
      config: cacheForAllTokens,
      request: everyTokenOnce(distinctTokens),
      check: expectAllowed,
      // Filling the cache is the warm-up: one miss per token, then hits only.
      warmup: sizes.distinctTokens + sizes.warmup,
      rssCheckpoints: tokensSeen([0.1, 0.5, 1]),
    },
    {
      ...plain,
      id: "bounded-cache",
      label: `6. ${sizes.distinctTokens.toLocaleString("en")} distinct tokens twice, token_cache_size ${boundedCacheSize}`,
      server: "ours",
      config: { ...base, token_cache_size: boundedCacheSize },
      // Twice through the pool: the second pass misses again (evicted), and must not grow the heap.
      request: everyTokenOnce(distinctTokens),
      check: expectAllowed,
      warmup: 2 * sizes.distinctTokens,
      rssCheckpoints: tokensSeen([0.1, 0.5, 1, 1.5, 2]),
      measured: false,
    },
    {
      ...plain,
      id: "opaque-cached",
      label: "9. as 1, a cached opaque token (introspected once)",
      server: "ours",
      config: withIntrospection,
      request: withToken(cachedOpaqueToken),
      check: expectAllowed,
    },
    {
      ...plain,
      id: "opaque-miss",
      label: "9. introspection miss, fresh opaque token per request",
      server: "ours",
      config: withIntrospection,
      request: everyTokenOnce(makeOnFirstUse(() => issueOpaqueTokens(countRequests("opaque-miss", sizes)))),
      check: expectAllowed,
    },
    { ...plain, id: "stock-floor", label: "7. stock server: 5. floor", server: "stock", pluginsDirectory: floorDirectory.path, config: floorConfig(identity, MAX_BODY_SIZE, TOKEN_HEADER), request: withToken(cachedToken), check: expectAllowed },
    { ...plain, id: "stock-allowed", label: "7. stock server: 1. allowed", server: "stock", config: base, request: withToken(cachedToken), check: expectAllowed },
    { ...plain, id: "stock-401", label: "7. stock server: 4. 401", server: "stock", config: base, request: () => postToolsCall(undefined), check: expectRefusal(401) },
    { ...plain, id: "lists-unfiltered", label: "10. tools/list, no list filter", server: "ours", config: { ...demoLists, filter_lists: false }, request: listTools(memberToken), check: expectAllowed },
    { ...listFiltered, id: "lists-filtered", label: "10. tools/list of 22 filtered to 20, JSON", request: listTools(memberToken), upstream: answerToolsList(demoTools, false), check: expectListed(20) },
    { ...listFiltered, id: "lists-filtered-sse", label: "10. tools/list of 22 filtered to 20, SSE", request: listTools(memberToken), upstream: answerToolsList(demoTools, true), check: expectListed(20) },
    { ...listFiltered, id: "lists-whole", label: "10. tools/list of 22, all 22 kept, JSON", request: listTools(cachedToken), upstream: answerToolsList(demoTools, false), check: expectListed(22) },
    { ...listFiltered, id: "filter-lists-call", label: "10. as 1, filter_lists (buffering turned off)", config: { ...base, filter_lists: true }, request: withToken(cachedToken), check: expectAllowed },
  ];
  const selectedScenarios = scenarios.filter((scenario) => selected?.has(scenario.id) ?? true);
  // Making each kept scenario's first request signs its tokens now, before anything is timed.
  for (const scenario of selectedScenarios) scenario.request(0);
  return {
    scenarios: selectedScenarios,
    comparisons: COMPARISONS,
    close: async () => {
      floorDirectory.remove();
      await jwks.close();
      await introspection.close();
    },
  };
}
