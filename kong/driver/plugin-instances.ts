// Kong's running_instances and get_instance_id (kong/runloop/plugin_servers/plugin.lua): one
// instance per plugin entity id; a new __seq__ starts a new instance, then closes the old one.
import type { ConfiguredPlugin } from "./route-table";
import type { RpcClient } from "./rpc-client";

/** What happened to an instance, in order, for tests to follow Kong's instance management. */
export type InstanceEvent =
  | { kind: "started"; pluginId: string; seq: number; instanceId: number }
  | { kind: "closed"; pluginId: string; instanceId: number; error?: string }
  | { kind: "reset"; reason: string };

interface RunningInstance {
  seq: number;
  /** Settles to the instance id; pending while StartInstance is in flight (others wait, as in Kong). */
  id: Promise<number>;
}

/** StartInstance failed: Kong raises, and the request gets Kong's 500. */
export class StartInstanceError extends Error {
  override readonly name = "StartInstanceError";
}

/** The instances one Kong worker holds for one plugin server. */
export class PluginInstances {
  readonly events: InstanceEvent[] = [];
  private readonly running = new Map<string, RunningInstance>();

  constructor(private readonly rpc: RpcClient) {}

  /** The instance id for this plugin config, starting (and replacing) the instance when needed. */
  async getInstanceId(plugin: ConfiguredPlugin): Promise<number> {
    const current = this.running.get(plugin.id);
    if (current !== undefined && current.seq === plugin.seq) return current.id;
    const previous = current;
    const starting: RunningInstance = { seq: plugin.seq, id: this.startInstance(plugin) };
    this.running.set(plugin.id, starting);
    let instanceId: number;
    try {
      instanceId = await starting.id;
    } catch (error) {
      // Remove the claim so another request may succeed.
      if (this.running.get(plugin.id) === starting) this.running.delete(plugin.id);
      throw error;
    }
    if (previous !== undefined) {
      const previousId = await previous.id.catch(() => undefined);
      if (previousId !== undefined) await this.closeInstance(plugin.id, previousId);
    }
    return instanceId;
  }

  /** Forgets every instance (reset_instances_for_plugin), as after "no plugin instance" or a new server pid. */
  reset(reason: string): void {
    this.running.clear();
    this.events.push({ kind: "reset", reason });
  }

  private async startInstance(plugin: ConfiguredPlugin): Promise<number> {
    let status: unknown;
    try {
      status = await this.rpc.call("plugin.StartInstance", [{ Name: plugin.name, Config: plugin.configJson }]);
    } catch (error) {
      throw new StartInstanceError(`starting instance: ${(error as Error).message}`);
    }
    const instanceId = (status as { Id?: unknown } | null)?.Id;
    if (typeof instanceId !== "number") throw new StartInstanceError("starting instance: the reply has no numeric Id");
    this.events.push({ kind: "started", pluginId: plugin.id, seq: plugin.seq, instanceId });
    return instanceId;
  }

  private async closeInstance(pluginId: string, instanceId: number): Promise<void> {
    try {
      await this.rpc.call("plugin.CloseInstance", [instanceId]);
      this.events.push({ kind: "closed", pluginId, instanceId });
    } catch (error) {
      // Kong ignores it: another worker may have closed it first.
      this.events.push({ kind: "closed", pluginId, instanceId, error: (error as Error).message });
    }
  }
}
