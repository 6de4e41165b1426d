// One plugin server of kong.conf's pluginserver_names as a Kong worker holds it: the query
// command's dump, the process when Kong starts it, the RPC connection and the plugin instances.
import { queryPluginDump, type CommandOptions, type PluginInfo } from "./plugin-dump";
import { PluginInstances } from "./plugin-instances";
import { PluginServerProcess } from "./plugin-server-process";
import { RpcClient } from "./rpc-client";

/** pluginserver_<name>_start_cmd, _query_cmd and _socket, as argv and path. */
export interface PluginServerSettings {
  /** Leave it out for a server managed elsewhere (Kong then only connects to the socket). */
  startCommand?: readonly string[];
  /** Its stdout must be exactly one JSON array (e.g. [..., "--dump-all-plugins"]). */
  queryCommand: readonly string[];
  socketPath: string;
}

/** How the commands run and how long Kong waits. */
export interface PluginServerConnectionOptions extends CommandOptions {
  /** Per RPC call (Kong's socket timeouts). */
  callTimeoutMs: number;
  /** How long the server may take to open its socket. */
  startTimeoutMs?: number;
}

/** A plugin server a Kong worker talks to. */
export class PluginServerConnection {
  readonly rpc: RpcClient;
  readonly instances: PluginInstances;
  private knownServerPid: number | undefined;

  private constructor(
    /** The query command's dump; Kong 3.9 registers only the first plugin. */
    readonly plugins: readonly PluginInfo[],
    readonly process: PluginServerProcess | undefined,
    socketPath: string,
    callTimeoutMs: number,
  ) {
    this.rpc = new RpcClient({ socketPath, callTimeoutMs, onNotification: (label, args) => this.receiveNotification(label, args) });
    this.instances = new PluginInstances(this.rpc);
  }

  /** Runs the query command, then the start command when given, and waits for the socket. */
  static async start(settings: PluginServerSettings, options: PluginServerConnectionOptions): Promise<PluginServerConnection> {
    const commandOptions = { env: options.env, cwd: options.cwd };
    const plugins = await queryPluginDump(settings.queryCommand, commandOptions);
    const process =
      settings.startCommand === undefined
        ? undefined
        : await PluginServerProcess.start({ ...commandOptions, startCommand: settings.startCommand, socketPath: settings.socketPath, startTimeoutMs: options.startTimeoutMs });
    return new PluginServerConnection(plugins, process, settings.socketPath, options.callTimeoutMs);
  }

  /** The plugin Kong registers from this server: the first of the dump. */
  get plugin(): PluginInfo {
    return this.plugins[0] as PluginInfo;
  }

  /** Closes the connections and stops the server when Kong started it. */
  async close(): Promise<void> {
    this.rpc.close();
    await this.process?.stop();
  }

  /** plugin.lua rpc_notifications:serverPid: a new pid means every instance is gone. */
  private receiveNotification(label: string, args: unknown): void {
    if (label !== "serverPid") return;
    const pid = Number(args);
    if (this.knownServerPid !== undefined && pid !== this.knownServerPid) this.instances.reset(`serverPid changed to ${pid}`);
    this.knownServerPid = pid;
  }
}
