// Kong 3.9's side of the plugin-server protocol against a real plugin server: a test and
// development tool. Production runs under Kong.
import { randomUUID } from "node:crypto";
import type { ConsumerEntity } from "./client-consumers";
import { runPluginPhase, type PhaseEnding, type PhaseRecord } from "./event-bridge";
import { startGateway, type GatewayOptions, type KongGateway } from "./gateway";
import { clearHeader, getFirstHeaderValue, type HeaderList } from "./header-list";
import { createPdkRequestState, type LogEntry, type PdkRequestState, type PdkSettings, type ServiceResponse } from "./kong-pdk-emulation";
import { rawPathOf, receiveRequest, type KongRequest, type ReceivedRequest } from "./kong-request";
import { buildErrorResponse, buildUnexpectedErrorResponse, type KongResponse } from "./kong-response";
import { isTruthy, type LuaTable } from "./lua-values";
import {
  buildNativeGuardResponse,
  buildNativeListGuardResponse,
  buildOutcome,
  VERIFIED_CONTEXT_KEY,
  type BufferedProxyResponse,
  type Decision,
  type Outcome,
  type OutcomeDetails,
  type UpstreamRequest,
} from "./outcome";
import { normalizePath } from "./path-normalization";
import type { PluginInfo } from "./plugin-dump";
import type { InstanceEvent } from "./plugin-instances";
import { PluginServerConnection, type PluginServerSettings } from "./plugin-server-connection";
import type { PluginServerProcess } from "./plugin-server-process";
import { RouteTable, type ConfiguredPlugin, type RouteDefinition, type RouteMatch } from "./route-table";
import { createTrustedIpMatcher } from "./trusted-ips";
import { buildUpstreamRequest } from "./upstream-request";

const MAX_KEPT_LOG_ENTRIES = 10_000;
/** The ngx.ctx flag of buffered proxying (kong/runloop/plugins_iterator.lua, Kong.access). */
const BUFFERED_PROXYING = "buffered_proxying";

/**
 * Calls the route's upstream and hands back its whole response, as Kong's buffered proxying
 * captures it (hop-by-hop fields removed).
 */
export type UpstreamCall = (request: UpstreamRequest) => Promise<ServiceResponse>;

export interface KongDriverOptions {
  /**
   * Like pluginserver_<name>_start_cmd, as argv. Leave it out for a server managed elsewhere (Kong
   * then only connects to the socket): two drivers on one server act as two Kong workers.
   */
  startCommand?: readonly string[];
  /** Like pluginserver_<name>_query_cmd, as argv (e.g. [..., "--dump-all-plugins"]). */
  queryCommand: readonly string[];
  /** Like pluginserver_<name>_socket. */
  socketPath: string;
  /** Environment and working directory of both commands. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Per RPC call (default 60 s, Kong's socket timeouts). */
  callTimeoutMs?: number;
  /** How long the server may take to open its socket (default 10 s). */
  startTimeoutMs?: number;
  /** Kong's trusted_ips (default none). */
  trustedIps?: readonly string[];
  /** nginx client_body_buffer_size (default 8192). */
  clientBodyBufferSize?: number;
  /**
   * Emulate the guard operators install after the plugin (a post-function): a request that would be
   * proxied without ctx.shared.mcp_oauth2 gets 503 instead, and a buffered response to a list
   * request (ctx.shared.mcp_oauth2.listing) that no plugin answered gets 502. Applies to routes
   * with the first server's plugin.
   */
  nativeGuard?: boolean;
  routes?: readonly RouteDefinition[];
  /**
   * More plugin servers (pluginserver_names after the first), e.g. a test plugin that runs after
   * the first server's plugin on the same route and reads what it left (Kong runs a route's
   * plugins by descending priority).
   */
  otherPluginServers?: readonly PluginServerSettings[];
  /** Kong's consumers table, which kong.client.load_consumer reads. */
  consumers?: readonly ConsumerEntity[];
}

/** Kong 3.9 driving one plugin server. */
export class KongDriver {
  private routeTable: RouteTable;
  private lastSeq = 0;
  private readonly nextSeq = (): number => ++this.lastSeq;
  private readonly driverLogs: LogEntry[] = [];
  private readonly gateways = new Set<KongGateway>();
  private readonly settings: PdkSettings;
  private consumers: readonly ConsumerEntity[];

  private constructor(
    private readonly options: KongDriverOptions,
    /** The first plugin server, then the others, in pluginserver_names order. */
    private readonly servers: readonly [PluginServerConnection, ...PluginServerConnection[]],
  ) {
    this.settings = {
      isTrusted: createTrustedIpMatcher(options.trustedIps ?? []),
      clientBodyBufferSize: options.clientBodyBufferSize ?? 8192,
      nodeId: randomUUID(),
    };
    this.consumers = options.consumers ?? [];
    this.routeTable = RouteTable.configure(options.routes ?? [], this.servedPlugins, this.nextSeq);
  }

  /**
   * Runs each plugin server's query command (stdout must be exactly one JSON array), starts the
   * servers that have a start command, and waits until their sockets accept connections.
   */
  static async start(options: KongDriverOptions): Promise<KongDriver> {
    const connectionOptions = { env: options.env, cwd: options.cwd, callTimeoutMs: options.callTimeoutMs ?? 60_000, startTimeoutMs: options.startTimeoutMs };
    const started: PluginServerConnection[] = [];
    try {
      for (const settings of [options, ...(options.otherPluginServers ?? [])]) started.push(await PluginServerConnection.start(settings, connectionOptions));
      const [first, ...others] = started as [PluginServerConnection, ...PluginServerConnection[]];
      return new KongDriver(options, [first, ...others]);
    } catch (error) {
      await Promise.all(started.map((server) => server.close()));
      throw error;
    }
  }

  /** The first plugin server's dump; Kong 3.9 registers only its first plugin. */
  get plugins(): readonly PluginInfo[] {
    return this.servers[0].plugins;
  }

  /** The plugin Kong registers from the first plugin server: the first of its dump. */
  get plugin(): PluginInfo {
    return this.servers[0].plugin;
  }

  /** The plugin Kong registers from each server, in server order. */
  private get servedPlugins(): PluginInfo[] {
    return this.servers.map((server) => server.plugin);
  }

  /**
   * Replaces the routes and their plugin configs. Configs get Kong's defaults (SchemaViolationError
   * otherwise) and every plugin a new __seq__, so the next request starts a new instance and then
   * closes the old one, as after any Kong configuration change.
   */
  configureRoutes(routes: readonly RouteDefinition[]): void {
    this.routeTable = RouteTable.configure(routes, this.servedPlugins, this.nextSeq);
  }

  /** Replaces Kong's consumers table, as Admin API changes do (the next load_consumer reads it). */
  configureConsumers(consumers: readonly ConsumerEntity[]): void {
    this.consumers = consumers;
  }

  /**
   * Routes a request, runs the access phase of the route's plugins through their plugin servers
   * and reports what Kong would do. With buffered proxying (a plugin on the route has a response
   * phase) and an `upstream` to call, also captures the upstream's response and runs the response
   * phase. Rejects only for driver limits (a PDK function the driver does not emulate).
   */
  handle(request: KongRequest, upstream?: UpstreamCall): Promise<Outcome> {
    return this.runRequest(receiveRequest(request), upstream);
  }

  /** Serves HTTP on 127.0.0.1 as a small Kong (routes given here replace the current ones). */
  async listen(options: GatewayOptions & { routes?: readonly RouteDefinition[] } = {}): Promise<KongGateway> {
    if (options.routes !== undefined) this.configureRoutes(options.routes);
    const gateway = await startGateway(
      (request, upstream) => this.runRequest(request, upstream),
      (error) => this.keepLog({ level: "err", message: `driver: ${(error as Error).message}`, source: "kong" }),
      options,
    );
    this.gateways.add(gateway);
    const close = async (): Promise<void> => {
      this.gateways.delete(gateway);
      await gateway.close();
    };
    return { url: gateway.url, port: gateway.port, close };
  }

  /** Kills a plugin server (the first unless named by its plugin) with SIGKILL: Kong keeps its instance ids, as after a crash. */
  async killServer(plugin?: string): Promise<void> {
    await this.managedServer(plugin).kill();
  }

  /** Stops (if running) and starts a plugin server again (the first unless named by its plugin). */
  async restartServer(plugin?: string): Promise<void> {
    await this.managedServer(plugin).restart();
  }

  /** Closes the gateways and connections, and stops the plugin servers. */
  async close(): Promise<void> {
    await Promise.all([...this.gateways].map((gateway) => gateway.close()));
    this.gateways.clear();
    await Promise.all(this.servers.map((server) => server.close()));
  }

  /** The first server's process id while it runs. */
  get serverPid(): number | undefined {
    return this.servers[0].process?.pid;
  }

  /** The process ids of every plugin server the driver started and that runs. */
  get serverPids(): number[] {
    return this.servers.flatMap((server) => (server.process?.pid === undefined ? [] : [server.process.pid]));
  }

  /** Lines the first plugin server printed on stdout (the stock server logs there). */
  get serverStdout(): readonly string[] {
    return this.servers[0].process?.stdoutLines ?? [];
  }

  /** Lines the first plugin server printed on stderr. */
  get serverStderr(): readonly string[] {
    return this.servers[0].process?.stderrLines ?? [];
  }

  /** Kong's error log so far: plugin kong.log.* lines and Kong's own (the last 10,000). */
  get logs(): readonly LogEntry[] {
    return this.driverLogs;
  }

  /** The first server's instance starts, closes and resets, in order. */
  get instanceEvents(): readonly InstanceEvent[] {
    return this.servers[0].instances.events;
  }

  private managedServer(plugin: string | undefined): PluginServerProcess {
    const connection = plugin === undefined ? this.servers[0] : this.servers.find((server) => server.plugin.Name === plugin);
    if (connection === undefined) throw new Error(`no plugin server serves "${plugin}"`);
    if (connection.process === undefined) throw new Error("this driver does not manage the plugin server (no startCommand)");
    return connection.process;
  }

  private keepLog(entry: LogEntry): void {
    this.driverLogs.push(entry);
    if (this.driverLogs.length > MAX_KEPT_LOG_ENTRIES) this.driverLogs.shift();
  }

  private async runRequest(request: ReceivedRequest, upstream: UpstreamCall | undefined): Promise<Outcome> {
    const normalizedPath = normalizePath(rawPathOf(request.requestUri));
    const match = this.routeTable.match(normalizedPath);
    const record: PhaseRecord = { pdkCalls: [], unknownPdkCalls: [], retriedAfterNoPluginInstance: false };
    const state = createPdkRequestState(
      request,
      {
        routeId: match?.route.definition.id ?? "",
        routePaths: match?.route.definition.paths ?? [],
        stripPath: match?.route.stripPath ?? true,
        serviceId: match?.route.definition.serviceId,
        pluginId: match?.route.plugins[0]?.id ?? "",
        normalizedPath,
        matchedPath: match?.matchedPath,
      },
      this.settings,
      this.consumers,
    );
    const ending = match === undefined ? undefined : await this.runAccessPhase(match, state, record);
    let decision = this.decide(match, ending, state);
    if (decision.kind === "proceed" && decision.bufferedProxying && upstream !== undefined) {
      decision = { ...decision, response: await this.runResponsePhase(match!, state, await upstream(decision.upstreamRequest)) };
    }
    const details: OutcomeDetails = {
      routeId: match?.route.definition.id,
      requestId: request.requestId,
      ...record,
      logs: state.logs,
      failOpen: ending?.kind === "fail-open" ? ending.failOpen : undefined,
    };
    const outcome = buildOutcome(details, state, decision);
    for (const entry of outcome.logs) this.keepLog(entry);
    return outcome;
  }

  /** Whether the native guard watches this route: it carries the first server's plugin (mcp-oauth2). */
  private isGuarded(match: RouteMatch): boolean {
    return this.options.nativeGuard === true && match.route.plugins.some((plugin) => plugin.server === 0);
  }

  /**
   * What Kong does after the access phase: the router's 404, the phase's answer, the native guard's
   * 503 for an unverified request on a route with the plugin, or proxying, buffered when a plugin
   * with a response phase was collected and no plugin turned buffering off again.
   */
  private decide(match: RouteMatch | undefined, ending: PhaseEnding | undefined, state: PdkRequestState): Decision {
    if (match === undefined) {
      const response = buildErrorResponse(404, "no Route matched with those values", undefined, state.request, () => undefined);
      return { kind: "exit", source: "router", response };
    }
    if (ending?.kind === "exit") return { kind: "exit", source: "plugin", response: ending.response };
    if (ending?.kind === "lua-error") return { kind: "exit", source: "kong", response: buildUnexpectedErrorResponse() };
    if (this.isGuarded(match) && !state.ctxShared.has(VERIFIED_CONTEXT_KEY)) {
      state.logs.push({ level: "err", message: "mcp-oauth2 did not vouch for this request (plugin server down?); refusing it", source: "plugin" });
      return { kind: "exit", source: "native-guard", response: buildNativeGuardResponse() };
    }
    let bufferedProxying = isTruthy(state.ngxCtx.get(BUFFERED_PROXYING));
    const upgrade = getFirstHeaderValue(state.headers, "upgrade") ?? "";
    if (bufferedProxying && upgrade !== "") {
      state.logs.push({ level: "notice", message: `response buffering was turned off: connection upgrade (${upgrade})`, source: "kong" });
      bufferedProxying = false;
    }
    return { kind: "proceed", upstreamRequest: buildUpstreamRequest(match, state), bufferedProxying };
  }

  /**
   * Kong's collecting iterator: the route's plugins by descending priority, each on its server;
   * collecting one with a response phase sets ngx.ctx.buffered_proxying. A plugin that answers or
   * raises ends the phase (Kong runs no later access handler); one whose conversation failed is
   * skipped, as Kong logs it and goes on.
   */
  private async runAccessPhase(match: RouteMatch, state: PdkRequestState, record: PhaseRecord): Promise<PhaseEnding | undefined> {
    let ending: PhaseEnding | undefined;
    for (const plugin of match.route.plugins) {
      const { Phases } = this.serverOf(plugin).plugin;
      if (Phases.includes("response") && !isTruthy(state.ngxCtx.get(BUFFERED_PROXYING))) state.ngxCtx.set(BUFFERED_PROXYING, true);
      if (!Phases.includes("access")) continue;
      const pluginEnding = await this.runPhaseOf(plugin, state, record);
      if (pluginEnding.kind === "exit" || pluginEnding.kind === "lua-error") return pluginEnding;
      if (ending === undefined || ending.kind === "ret") ending = pluginEnding;
    }
    return ending;
  }

  private serverOf(plugin: ConfiguredPlugin): PluginServerConnection {
    return this.servers[plugin.server] as PluginServerConnection;
  }

  private runPhaseOf(plugin: ConfiguredPlugin, state: PdkRequestState, record: PhaseRecord): Promise<PhaseEnding> {
    const { rpc, instances } = this.serverOf(plugin);
    state.scope = { ...state.scope, pluginId: plugin.id };
    return runPluginPhase(rpc, instances, plugin, state, record);
  }

  /**
   * Kong.response (kong/init.lua): with the service's whole response captured, status and headers
   * set for the client, the response phase of each collected plugin by priority; a plugin's
   * kong.response.exit answers instead (over the service's headers, its own replacing theirs), a
   * Lua error is Kong's 500, and otherwise the service's response goes out. The native guard then
   * refuses a response to a list request that no plugin answered.
   */
  private async runResponsePhase(match: RouteMatch, state: PdkRequestState, service: ServiceResponse): Promise<BufferedProxyResponse> {
    state.phase = "response";
    state.serviceResponse = service;
    const record: PhaseRecord = { pdkCalls: [], unknownPdkCalls: [], retriedAfterNoPluginInstance: false };
    const answer = (source: BufferedProxyResponse["source"], response: { status: number; headers: HeaderList; body: Buffer }): BufferedProxyResponse => ({ source, ...response, pdkCalls: record.pdkCalls });
    for (const plugin of match.route.plugins.filter((candidate) => this.serverOf(candidate).plugin.Phases.includes("response"))) {
      const ending = await this.runPhaseOf(plugin, state, record);
      if (ending.kind === "exit") return answer("plugin", answerOverServiceHeaders(service.headers, ending.response));
      if (ending.kind === "lua-error") return answer("kong", toBufferedResponse(buildUnexpectedErrorResponse()));
    }
    if (this.isGuarded(match) && readSharedListing(state.ctxShared) !== undefined) {
      state.logs.push({ level: "err", message: "mcp-oauth2-list-filter did not answer a list response (plugin server down?); refusing it", source: "plugin" });
      return answer("native-guard", buildNativeListGuardResponse(service.headers));
    }
    return answer("service", service);
  }
}

/** ctx.shared.mcp_oauth2.listing, as the native guard's Lua reads it. */
function readSharedListing(ctxShared: LuaTable): unknown {
  const verified = ctxShared.get(VERIFIED_CONTEXT_KEY);
  return verified instanceof Map ? verified.get("listing") : undefined;
}

function toBufferedResponse(response: KongResponse): { status: number; headers: HeaderList; body: Buffer } {
  return { status: response.status, headers: response.headers, body: Buffer.from(response.body, "latin1") };
}

/**
 * kong.response.exit in the response phase: ngx.header already holds the service's headers
 * (Kong.response set them); each header the exit sets replaces every value of that name.
 */
function answerOverServiceHeaders(serviceHeaders: HeaderList, exit: KongResponse): { status: number; headers: HeaderList; body: Buffer } {
  const replaced = new Set(exit.headers.map(([name]) => name.toLowerCase()));
  const kept = [...replaced].reduce(clearHeader, serviceHeaders);
  return { ...toBufferedResponse(exit), headers: [...kept, ...exit.headers] };
}
