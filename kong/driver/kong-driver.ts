// Kong 3.9's side of the plugin-server protocol against a real plugin server: a test and
// development tool. Production runs under Kong.
import { randomUUID } from "node:crypto";
import { runAccessPhase, type PhaseEnding, type PhaseRecord } from "./event-bridge";
import { startGateway, type GatewayOptions, type KongGateway } from "./gateway";
import { createPdkRequestState, type LogEntry, type PdkRequestState, type PdkSettings } from "./kong-pdk-emulation";
import { rawPathOf, receiveRequest, type KongRequest, type ReceivedRequest } from "./kong-request";
import { buildErrorResponse, buildUnexpectedErrorResponse } from "./kong-response";
import { buildNativeGuardResponse, buildOutcome, VERIFIED_CONTEXT_KEY, type Decision, type Outcome, type OutcomeDetails } from "./outcome";
import { normalizePath } from "./path-normalization";
import { queryPluginDump, type PluginInfo } from "./plugin-dump";
import { PluginInstances, type InstanceEvent } from "./plugin-instances";
import { PluginServerProcess } from "./plugin-server-process";
import { RouteTable, type RouteDefinition, type RouteMatch } from "./route-table";
import { RpcClient } from "./rpc-client";
import { createTrustedIpMatcher } from "./trusted-ips";
import { buildUpstreamRequest } from "./upstream-request";

const MAX_KEPT_LOG_ENTRIES = 10_000;

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
   * proxied without ctx.shared.mcp_oauth2 gets 503 instead. Applies to routes with the plugin.
   */
  nativeGuard?: boolean;
  routes?: readonly RouteDefinition[];
}

/** Kong 3.9 driving one plugin server. */
export class KongDriver {
  private routeTable: RouteTable;
  private lastSeq = 0;
  private readonly nextSeq = (): number => ++this.lastSeq;
  private knownServerPid: number | undefined;
  private readonly driverLogs: LogEntry[] = [];
  private readonly gateways = new Set<KongGateway>();
  private readonly rpc: RpcClient;
  private readonly instances: PluginInstances;
  private readonly settings: PdkSettings;

  private constructor(
    private readonly options: KongDriverOptions,
    /** The query command's dump; Kong 3.9 registers only the first plugin. */
    readonly plugins: readonly PluginInfo[],
    private readonly server: PluginServerProcess | undefined,
  ) {
    this.rpc = new RpcClient({
      socketPath: options.socketPath,
      callTimeoutMs: options.callTimeoutMs ?? 60_000,
      onNotification: (label, args) => this.receiveNotification(label, args),
    });
    this.instances = new PluginInstances(this.rpc);
    this.settings = {
      isTrusted: createTrustedIpMatcher(options.trustedIps ?? []),
      clientBodyBufferSize: options.clientBodyBufferSize ?? 8192,
      nodeId: randomUUID(),
    };
    this.routeTable = RouteTable.configure(options.routes ?? [], this.plugin, this.nextSeq);
  }

  /**
   * Runs the query command (stdout must be exactly one JSON array), starts the server with the start
   * command when given, and waits until its socket accepts connections.
   */
  static async start(options: KongDriverOptions): Promise<KongDriver> {
    const commandOptions = { env: options.env, cwd: options.cwd };
    const plugins = await queryPluginDump(options.queryCommand, commandOptions);
    const server =
      options.startCommand === undefined
        ? undefined
        : await PluginServerProcess.start({
            ...commandOptions,
            startCommand: options.startCommand,
            socketPath: options.socketPath,
            startTimeoutMs: options.startTimeoutMs,
          });
    try {
      return new KongDriver(options, plugins, server);
    } catch (error) {
      await server?.stop();
      throw error;
    }
  }

  /** The plugin Kong registers: the first of the dump. */
  get plugin(): PluginInfo {
    return this.plugins[0] as PluginInfo;
  }

  /**
   * Replaces the routes and their plugin configs. Configs get Kong's defaults (SchemaViolationError
   * otherwise) and every plugin a new __seq__, so the next request starts a new instance and then
   * closes the old one, as after any Kong configuration change.
   */
  configureRoutes(routes: readonly RouteDefinition[]): void {
    this.routeTable = RouteTable.configure(routes, this.plugin, this.nextSeq);
  }

  /**
   * Routes a request, runs the plugin's access phase through the plugin server and reports what Kong
   * would do. Rejects only for driver limits (a PDK function the driver does not emulate).
   */
  handle(request: KongRequest): Promise<Outcome> {
    return this.runRequest(receiveRequest(request));
  }

  /** Serves HTTP on 127.0.0.1 as a small Kong (routes given here replace the current ones). */
  async listen(options: GatewayOptions & { routes?: readonly RouteDefinition[] } = {}): Promise<KongGateway> {
    if (options.routes !== undefined) this.configureRoutes(options.routes);
    const gateway = await startGateway(
      (request) => this.runRequest(request),
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

  /** Kills the plugin server with SIGKILL (Kong keeps its instance ids, as after a crash). */
  async killServer(): Promise<void> {
    await this.managedServer().kill();
  }

  /** Stops (if running) and starts the plugin server again. */
  async restartServer(): Promise<void> {
    await this.managedServer().restart();
  }

  /** Closes the gateways and connections, and stops the plugin server. */
  async close(): Promise<void> {
    await Promise.all([...this.gateways].map((gateway) => gateway.close()));
    this.gateways.clear();
    this.rpc.close();
    await this.server?.stop();
  }

  /** The server's process id while it runs. */
  get serverPid(): number | undefined {
    return this.server?.pid;
  }

  /** Lines the plugin server printed on stdout (the stock server logs there). */
  get serverStdout(): readonly string[] {
    return this.server?.stdoutLines ?? [];
  }

  /** Lines the plugin server printed on stderr. */
  get serverStderr(): readonly string[] {
    return this.server?.stderrLines ?? [];
  }

  /** Kong's error log so far: plugin kong.log.* lines and Kong's own (the last 10,000). */
  get logs(): readonly LogEntry[] {
    return this.driverLogs;
  }

  /** Instance starts, closes and resets, in order. */
  get instanceEvents(): readonly InstanceEvent[] {
    return this.instances.events;
  }

  private managedServer(): PluginServerProcess {
    if (this.server === undefined) throw new Error("this driver does not manage the plugin server (no startCommand)");
    return this.server;
  }

  private keepLog(entry: LogEntry): void {
    this.driverLogs.push(entry);
    if (this.driverLogs.length > MAX_KEPT_LOG_ENTRIES) this.driverLogs.shift();
  }

  /** plugin.lua rpc_notifications:serverPid: a new pid means every instance is gone. */
  private receiveNotification(label: string, args: unknown): void {
    if (label !== "serverPid") return;
    const pid = Number(args);
    if (this.knownServerPid !== undefined && pid !== this.knownServerPid) this.instances.reset(`serverPid changed to ${pid}`);
    this.knownServerPid = pid;
  }

  private async runRequest(request: ReceivedRequest): Promise<Outcome> {
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
        pluginId: match?.route.plugin?.id ?? "",
        normalizedPath,
        matchedPath: match?.matchedPath,
      },
      this.settings,
    );
    const ending = match === undefined ? undefined : await this.runPlugin(match, state, record);
    const decision = this.decide(match, ending, state);
    const details: OutcomeDetails = {
      routeId: match?.route.definition.id,
      requestId: request.requestId,
      ...record,
      logs: state.logs,
      failOpen: ending?.kind === "fail-open" ? ending.failOpen : undefined,
    };
    const outcome = buildOutcome(details, state.ctxShared, decision);
    for (const entry of outcome.logs) this.keepLog(entry);
    return outcome;
  }

  /**
   * What Kong does after the access phase: the router's 404, the phase's answer, the native guard's
   * 503 for an unverified request on a route with the plugin, or proxying.
   */
  private decide(match: RouteMatch | undefined, ending: PhaseEnding | undefined, state: PdkRequestState): Decision {
    if (match === undefined) {
      const response = buildErrorResponse(404, "no Route matched with those values", undefined, state.request, () => undefined);
      return { kind: "exit", source: "router", response };
    }
    if (ending?.kind === "exit") return { kind: "exit", source: "plugin", response: ending.response };
    if (ending?.kind === "lua-error") return { kind: "exit", source: "kong", response: buildUnexpectedErrorResponse() };
    if (this.options.nativeGuard === true && match.route.plugin !== undefined && !state.ctxShared.has(VERIFIED_CONTEXT_KEY)) {
      state.logs.push({ level: "err", message: "mcp-oauth2 did not vouch for this request (plugin server down?); refusing it", source: "plugin" });
      return { kind: "exit", source: "native-guard", response: buildNativeGuardResponse() };
    }
    return { kind: "proceed", upstreamRequest: buildUpstreamRequest(match, state) };
  }

  private async runPlugin(match: RouteMatch, state: PdkRequestState, record: PhaseRecord): Promise<PhaseEnding | undefined> {
    const plugin = match.route.plugin;
    if (plugin === undefined || !this.plugin.Phases.includes("access")) return undefined;
    return runAccessPhase(this.rpc, this.instances, plugin, state, record);
  }
}
