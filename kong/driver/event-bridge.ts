// Kong's handle_event and bridge_loop (rpc/mp_rpc.lua): HandleEvent, then one Step per PDK call
// until the plugin server answers "ret"; kong.response.exit ends the conversation without a reply.
// The same for every phase: the driver runs access and response.
import {
  isKnownPdkMethod,
  runPdkMethod,
  type PdkRequestState,
} from "./kong-pdk-emulation";
import type { KongResponse } from "./kong-response";
import { bytesToText, LuaError, luaValueFromMsgpack, luaValueToMsgpack, type LuaValue } from "./lua-values";
import { StartInstanceError, type PluginInstances } from "./plugin-instances";
import type { ConfiguredPlugin } from "./route-table";
import {
  RpcProtocolError,
  RpcReplyError,
  RpcTransportError,
  type RpcClient,
  type TransportFailure,
} from "./rpc-client";

/** Why Kong let a request through although the plugin did not finish its phase. */
export interface FailOpen {
  cause: "rpc-error" | TransportFailure | "nil-reply" | "no-plugin-instance";
  /** What Kong logs. */
  reason: string;
}

/** How a phase ended. */
export type PhaseEnding =
  | { kind: "ret" }
  | { kind: "exit"; response: KongResponse }
  | { kind: "lua-error"; message: string }
  | { kind: "fail-open"; failOpen: FailOpen };

/** One PDK call as a plugin sent it: the plugin, the method name and the Args array as decoded. */
export interface PdkCall {
  plugin: string;
  method: string;
  args: unknown[];
}

/** What one phase run records for the outcome. */
export interface PhaseRecord {
  pdkCalls: PdkCall[];
  /** Methods Kong does not expose ("could not find pdk method"); they were answered with nil. */
  unknownPdkCalls: string[];
  retriedAfterNoPluginInstance: boolean;
}

const MULTI_MAP_STEP = "plugin.StepMultiMap";

/**
 * The typed Step method by PDK method (mp_rpc.lua by_pdk_method), for the methods the driver
 * emulates; Kong also fixes up (fix_mmap) the result of exactly the StepMultiMap ones.
 */
const STEP_METHODS: Record<string, string> = {
  "kong.client.get_credential": "plugin.StepCredential",
  "kong.client.get_consumer": "plugin.StepConsumer",
  "kong.client.load_consumer": "plugin.StepConsumer",
  "kong.client.authenticate": "plugin.StepCredential",
  "kong.router.get_route": "plugin.StepRoute",
  "kong.router.get_service": "plugin.StepService",
  "kong.request.get_query": MULTI_MAP_STEP,
  "kong.request.get_headers": MULTI_MAP_STEP,
  "kong.service.response.get_headers": MULTI_MAP_STEP,
};

/** mp_rpc.lua must_fix: results packed as msgpack bin (fix_raw). */
const RAW_RESULTS = new Set(["kong.request.get_raw_body", "kong.response.get_raw_body", "kong.service.response.get_raw_body"]);

/** mp_rpc.lua fix_mmap: every value becomes a list (`true` an empty one); no entries is an empty map. */
function multiMapData(value: LuaValue): unknown {
  if (!(value instanceof Map)) throw new LuaError("bad argument #1 to 'pairs' (table expected)");
  const result: Record<string, unknown> = {};
  for (const [key, entry] of value) {
    const list = entry === true ? [] : typeof entry === "string" ? [bytesToText(entry)] : luaValueToMsgpack(entry);
    result[typeof key === "string" ? bytesToText(key) : String(key)] = list;
  }
  return result;
}

/** The Data of the Step reply, as Kong packs the PDK result. */
function stepData(stepMethod: string, method: string, value: LuaValue): unknown {
  if (stepMethod === MULTI_MAP_STEP) return multiMapData(value);
  if (RAW_RESULTS.has(method)) {
    // fix_raw packs the result as bin; packing nil raises "attempt to get length of a nil value".
    if (typeof value !== "string") throw new LuaError("attempt to get length of local 'str' (a nil value)");
    return Buffer.from(value, "latin1");
  }
  return luaValueToMsgpack(value);
}

/** A step's Args as a list: Kong passes a non-table Args as the one argument (nil as none). */
function argumentList(args: unknown): unknown[] {
  if (Array.isArray(args)) return args;
  return args === undefined || args === null ? [] : [args];
}

/** Lua's unpack(args): the argument list ends at the first nil. */
function luaArguments(args: readonly unknown[]): LuaValue[] {
  const end = args.findIndex((arg) => arg === null || arg === undefined);
  return (end === -1 ? args : args.slice(0, end)).map(luaValueFromMsgpack);
}

/** Kong's answer to one PDK call of the bridge loop: the Step to send back, or the response that ends the request. */
export type PdkCallAnswer = { kind: "step"; stepMethod: string; data: unknown } | { kind: "exit"; response: KongResponse };

/**
 * Runs one `{Method, Args}` a plugin sent, as Kong's bridge loop does, and records it. An unknown
 * method is logged and answered with nil. Throws LuaError where Kong's Lua raises (the phase then
 * ends with Kong's 500).
 */
export async function answerPdkCall(state: PdkRequestState, method: string, rawArgs: unknown, record: PhaseRecord, pluginName: string): Promise<PdkCallAnswer> {
  const args = argumentList(rawArgs);
  record.pdkCalls.push({ plugin: pluginName, method, args });
  if (!isKnownPdkMethod(method)) {
    state.logs.push({ level: "err", message: `could not find pdk method: ${method}`, source: "kong" });
    record.unknownPdkCalls.push(method);
    return { kind: "step", stepMethod: "plugin.Step", data: undefined };
  }
  const outcome = await runPdkMethod(state, method, luaArguments(args));
  if (outcome.kind === "exit") return outcome;
  const stepMethod = STEP_METHODS[method] ?? "plugin.Step";
  return { kind: "step", stepMethod, data: stepData(stepMethod, method, outcome.value) };
}

type BridgeResult = PhaseEnding | { kind: "rpc-failure"; error: RpcReplyError | RpcTransportError };

async function runBridgeLoop(
  rpc: RpcClient,
  instanceId: number,
  pluginName: string,
  state: PdkRequestState,
  record: PhaseRecord,
): Promise<BridgeResult> {
  let stepIn = (await rpc.call("plugin.HandleEvent", [{ InstanceId: instanceId, EventName: state.phase }])) as
    | { Data?: unknown; EventId?: unknown }
    | null
    | undefined;
  if (stepIn === null || stepIn === undefined) return { kind: "fail-open", failOpen: { cause: "nil-reply", reason: "HandleEvent returned nil" } };
  const eventId = stepIn.EventId;
  for (;;) {
    const data = stepIn.Data;
    if (data === "ret") return { kind: "ret" };
    if (typeof data !== "object" || data === null) return { kind: "lua-error", message: "attempt to index field 'Data' (a non-table value)" };
    const { Method: method, Args: rawArgs } = data as { Method?: unknown; Args?: unknown };
    if (typeof method !== "string") return { kind: "lua-error", message: "bad argument #1 to 'gmatch' (string expected)" };
    const answer = await answerPdkCall(state, method, rawArgs, record, pluginName);
    if (answer.kind === "exit") return answer;
    stepIn = (await rpc.call(answer.stepMethod, [{ EventId: eventId, Data: answer.data }])) as typeof stepIn;
    if (stepIn === null || stepIn === undefined) {
      return { kind: "fail-open", failOpen: { cause: "nil-reply", reason: `${answer.stepMethod} returned nil` } };
    }
  }
}

async function runOnce(
  rpc: RpcClient,
  instances: PluginInstances,
  plugin: ConfiguredPlugin,
  state: PdkRequestState,
  record: PhaseRecord,
): Promise<BridgeResult> {
  try {
    const instanceId = await instances.getInstanceId(plugin);
    return await runBridgeLoop(rpc, instanceId, plugin.name, state, record);
  } catch (error) {
    if (error instanceof RpcReplyError || error instanceof RpcTransportError) return { kind: "rpc-failure", error };
    if (error instanceof LuaError || error instanceof RpcProtocolError || error instanceof StartInstanceError) {
      return { kind: "lua-error", message: error.message };
    }
    throw error;
  }
}

/**
 * Runs the phase `state.phase` of `plugin` for one request as Kong 3.9 does. An error that says "no
 * plugin instance" resets the instances and runs the phase again once (Kong recurses without
 * limit); any other RPC failure is logged and the request goes on: Kong fails open.
 */
export async function runPluginPhase(
  rpc: RpcClient,
  instances: PluginInstances,
  plugin: ConfiguredPlugin,
  state: PdkRequestState,
  record: PhaseRecord,
): Promise<PhaseEnding> {
  for (let attempt = 0; ; attempt += 1) {
    const result = await runOnce(rpc, instances, plugin, state, record);
    if (result.kind !== "rpc-failure") {
      if (result.kind === "lua-error") state.logs.push({ level: "err", message: result.message, source: "kong" });
      return result;
    }
    const reason = result.error.message;
    if (reason.toLowerCase().includes("no plugin instance")) {
      instances.reset(reason);
      state.logs.push({ level: "warn", message: reason, source: "kong" });
      if (attempt === 0) {
        record.retriedAfterNoPluginInstance = true;
        continue;
      }
      return { kind: "fail-open", failOpen: { cause: "no-plugin-instance", reason: `${reason} (again after a reset; Kong would keep recursing)` } };
    }
    state.logs.push({ level: "err", message: reason, source: "kong" });
    const cause = result.error instanceof RpcTransportError ? result.error.failure : "rpc-error";
    return { kind: "fail-open", failOpen: { cause, reason } };
  }
}
