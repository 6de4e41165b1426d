// The RPC methods Kong calls on a JavaScript plugin server, built on kong-pdk's Module/Instance,
// PipePair and PDK bridge (the protocol is kong-pdk's), with the stock server's defects fixed:
// events are forgotten when they end (also by kong.response.exit/error, after which Kong never
// answers), abandoned events are swept, and instance and event ids start at a random base so that
// ids Kong still holds from a previous process cannot name a new instance or event.
import { randomInt } from "node:crypto";
import type { Instance, Module } from "kong-pdk/lib/mod";
import PipePair = require("kong-pdk/lib/pipe");
import PDK = require("kong-pdk/pdk");
import type { Logger } from "./stderr-logger";

type Pipe = ReturnType<PipePair["getPair"]>[number];

/** What the plugin's end of an event returns: "ret" at the end, else a PDK call {Method, Args}. */
const MSG_RET = "ret";
/** PDK calls after which Kong sends nothing more for the event (kong-pdk's NON_RETURN_METHODS). */
const NON_RETURNING_METHODS = new Set(["kong.response.exit", "kong.response.error"]);
/** kong-pdk's typed Step variants: the same as Step to a JavaScript server. */
const STEP_VARIANTS = ["Step", "StepMultiMap", "StepService", "StepConsumer", "StepRoute", "StepPlugin", "StepCredential", "StepMemoryStats"];
/** Ids stay exact in msgpack and Lua doubles (below 2^53) after any number of increments. */
const ID_BASE_LIMIT = 2 ** 47;

/** The plugin server answers Kong with this error; Kong reads "no plugin instance" as "restart it". */
class PluginServerError extends Error {
  override readonly name = "PluginServerError";
}

/** What the server uses of a loaded plugin (kong-pdk's Module). */
export type LoadedPlugin = Pick<
  Module,
  | "name"
  | "mod"
  | "new"
  | "getPhases"
  | "getPriority"
  | "getVersion"
  | "getSchema"
  | "getMTime"
  | "getLoadTime"
  | "getLastStartInstanceTime"
  | "getLastCloseInstanceTime"
>;

/** An RPC method: receives the msgpack params, resolves to the result. */
export type RpcMethod = (...params: unknown[]) => Promise<unknown>;

interface PendingEvent {
  pipe: Pipe;
  /** When the server last handed Kong a PDK call; undefined while the plugin itself is running. */
  waitingForKongSince: number | undefined;
}

export interface PluginServerOptions {
  /** An event whose PDK call Kong has not answered for this long is forgotten (default 10 min). */
  abandonedEventMs?: number;
  /** First instance and event ids (default: random, see ID_BASE_LIMIT). */
  idBase?: number;
}

/**
 * The plugin entity's `protocols` field narrowed to the protocols a plugin exports as `Protocols`
 * (an extension the stock server ignores). Kong Manager always shows Protocols for external
 * plugins, empty by default, and Kong never runs a plugin saved with `protocols: []`: for an
 * authentication plugin that leaves the route open. Like Kong's own plugins (typedefs.protocols_http),
 * the field then defaults to the plugin's protocols, offers only those, and refuses an empty set.
 */
function describeProtocolsField(protocols: unknown): Record<string, unknown>[] {
  if (!Array.isArray(protocols) || protocols.length === 0 || !protocols.every((protocol) => typeof protocol === "string")) return [];
  return [
    {
      protocols: {
        type: "set",
        required: true,
        len_min: 1,
        default: protocols,
        elements: { type: "string", one_of: protocols, description: "A protocol the plugin runs on." },
        description: `Protocols of requests this plugin runs on (${protocols.join(", ")}); a request on another protocol is not checked by it.`,
      },
    },
  ];
}

/** Whether a value returned to Kong ends the event on Kong's side. */
function endsEvent(data: unknown): boolean {
  if (data === MSG_RET) return true;
  const method = (data as { Method?: unknown } | null)?.Method;
  return typeof method === "string" && NON_RETURNING_METHODS.has(method);
}

/** The server state and its RPC methods. */
export class PluginServer {
  /** RPC methods by name (the part after "plugin."). */
  readonly methods: Readonly<Record<string, RpcMethod>>;
  private readonly instances = new Map<number, Instance>();
  private readonly events = new Map<number, PendingEvent>();
  private nextInstanceId: number;
  private nextEventId: number;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly abandonedEventMs: number;

  constructor(
    private readonly plugins: ReadonlyMap<string, LoadedPlugin>,
    private readonly logger: Logger,
    options: PluginServerOptions = {},
  ) {
    const idBase = options.idBase ?? randomInt(ID_BASE_LIMIT);
    this.nextInstanceId = idBase;
    this.nextEventId = idBase;
    this.abandonedEventMs = options.abandonedEventMs ?? 10 * 60_000;
    this.sweepTimer = setInterval(() => this.forgetAbandonedEvents(), Math.min(this.abandonedEventMs, 60_000)).unref();
    const step = (isError: boolean): RpcMethod => (data) => this.step(data as { EventId?: unknown; Data?: unknown }, isError);
    this.methods = {
      GetStatus: async () => this.getStatus(),
      GetPluginInfo: async (name) => this.getPluginInfo(name),
      StartInstance: async (config) => this.startInstance(config as { Name?: unknown; Config?: unknown }),
      InstanceStatus: async (id) => this.instanceStatus(id),
      CloseInstance: async (id) => this.closeInstance(id),
      HandleEvent: (event) => this.handleEvent(event as { InstanceId?: unknown; EventName?: unknown }),
      StepError: step(true),
      ...Object.fromEntries(STEP_VARIANTS.map((name) => [name, step(false)])),
    };
  }

  /** Events currently held: each is a request whose phase has not ended on both sides. */
  get pendingEventCount(): number {
    return this.events.size;
  }

  /** Stops the sweep timer. */
  close(): void {
    clearInterval(this.sweepTimer);
  }

  /** The plugin's info as Kong reads it from --dump-all-plugins. */
  getPluginInfo(name: unknown): Record<string, unknown> {
    const plugin = this.pluginOf(name);
    return {
      Name: name,
      Version: plugin.getVersion(),
      Phases: plugin.getPhases(),
      Priority: plugin.getPriority(),
      Schema: { name, fields: [...describeProtocolsField(plugin.mod.Protocols), { config: { type: "record", fields: plugin.getSchema() } }] },
    };
  }

  private getStatus(): Record<string, unknown> {
    const plugins = Object.fromEntries(
      [...this.plugins].map(([name, plugin]) => [
        name,
        {
          Name: name,
          Modtime: plugin.getMTime(),
          LoadTime: plugin.getLoadTime(),
          Instances: [...this.instances].filter(([, instance]) => instance.getName() === name).map(([id]) => this.instanceStatus(id)),
          LastStartInstance: plugin.getLastStartInstanceTime(),
          LastCloseInstance: plugin.getLastCloseInstanceTime(),
        },
      ]),
    );
    return { Pid: process.pid, Plugins: plugins };
  }

  private startInstance(request: { Name?: unknown; Config?: unknown }): Record<string, unknown> {
    const plugin = this.pluginOf(request.Name);
    const config: unknown = JSON.parse(String(request.Config));
    const instance = plugin.new(config);
    const id = this.nextInstanceId++;
    this.instances.set(id, instance);
    this.logger.info(`instance #${id} of ${plugin.name} started`);
    return { Name: request.Name, Id: id, Config: config, StartTime: Date.now() / 1000 };
  }

  private pluginOf(name: unknown): LoadedPlugin {
    const plugin = typeof name === "string" ? this.plugins.get(name) : undefined;
    if (plugin === undefined) throw new PluginServerError(`${String(name)} not initialized`);
    return plugin;
  }

  private instanceOf(id: unknown): Instance {
    const instance = typeof id === "number" ? this.instances.get(id) : undefined;
    // Kong expects the message to contain "no plugin instance" to restart its instances.
    if (instance === undefined) throw new PluginServerError(`no plugin instance #${String(id)}`);
    return instance;
  }

  private instanceStatus(id: unknown): Record<string, unknown> {
    const instance = this.instanceOf(id);
    return { Name: instance.getName(), Id: id, Config: instance.getConfig(), StartTime: instance.getStartTime() };
  }

  private closeInstance(id: unknown): Record<string, unknown> {
    const instance = this.instanceOf(id);
    instance.close();
    this.instances.delete(id as number);
    this.logger.info(`instance #${String(id)} of ${instance.getName()} closed`);
    return { Name: instance.getName(), Id: id, Config: instance.getConfig() };
  }

  private async handleEvent(event: { InstanceId?: unknown; EventName?: unknown }): Promise<Record<string, unknown>> {
    const instance = this.instanceOf(event.InstanceId);
    instance.resetExpireTs();
    const phase = String(event.EventName);
    const eventId = this.nextEventId++;
    const [serverEnd, pluginEnd] = new PipePair().getPair();
    this.events.set(eventId, { pipe: serverEnd, waitingForKongSince: undefined });
    // Run the phase on a later turn so a plugin that never awaits cannot starve socket I/O.
    setImmediate(async () => {
      try {
        await instance.executePhase(phase, new PDK(pluginEnd).kong);
      } catch (error) {
        this.logger.warn(`unhandled exception in ${instance.name}.${phase} on instance #${String(event.InstanceId)}: ${String(error)}`);
      }
      pluginEnd.put(MSG_RET);
    });
    return this.reply(eventId, await serverEnd.get());
  }

  private async step(data: { EventId?: unknown; Data?: unknown }, isError: boolean): Promise<Record<string, unknown>> {
    const eventId = data.EventId;
    const event = typeof eventId === "number" ? this.events.get(eventId) : undefined;
    if (event === undefined) throw new PluginServerError(`event id ${String(eventId)} not found`);
    event.waitingForKongSince = undefined;
    event.pipe.put(isError ? [undefined, data.Data] : [data.Data, undefined]);
    return this.reply(eventId as number, await event.pipe.get());
  }

  private reply(eventId: number, data: unknown): Record<string, unknown> {
    const event = this.events.get(eventId);
    if (endsEvent(data)) this.events.delete(eventId);
    else if (event !== undefined) event.waitingForKongSince = Date.now();
    return { Data: data, EventId: eventId };
  }

  /**
   * Forgets events Kong stopped answering: its PDK call raised (Kong answers 500 and never steps
   * again), its connection failed, or it timed out. The plugin's pending call is then garbage.
   * Runs every minute (at most); `now` is for tests.
   */
  forgetAbandonedEvents(now = Date.now()): void {
    const limit = now - this.abandonedEventMs;
    let forgotten = 0;
    for (const [eventId, event] of this.events) {
      if (event.waitingForKongSince !== undefined && event.waitingForKongSince < limit) {
        this.events.delete(eventId);
        forgotten += 1;
      }
    }
    if (forgotten > 0) this.logger.info(`forgot ${forgotten} events Kong no longer answers`);
  }
}
