// A plugin's access phase run in this process, without a plugin server: kong-pdk's own PDK bridge
// on the plugin's side, the driver's PDK emulation and bridge loop on Kong's, and msgpack between
// them as on the socket. For unit tests of a handler that need Kong's answers, not the protocol.
import { randomUUID } from "node:crypto";
import { decode, encode } from "@msgpack/msgpack";
import PipePair = require("kong-pdk/lib/pipe");
import PDK = require("kong-pdk/pdk");
import { answerPdkCall, type PhaseRecord } from "./event-bridge";
import { createPdkRequestState, type PdkRequestState } from "./kong-pdk-emulation";
import type { KongResponse } from "./kong-response";
import { rawPathOf, receiveRequest, type KongRequest } from "./kong-request";
import { LuaError } from "./lua-values";
import { normalizePath } from "./path-normalization";
import { createTrustedIpMatcher } from "./trusted-ips";

export interface InProcessPhaseOptions {
  /** nginx client_body_buffer_size (default 8192). */
  clientBodyBufferSize?: number;
  /** Kong's trusted_ips (default none). */
  trustedIps?: readonly string[];
}

/** How the phase ended, what Kong ran for it, and the request state it left. */
export interface InProcessPhase extends PhaseRecord {
  /** "exit": the plugin answered (response); "ret": the handler returned; "lua-error": Kong's Lua raised (Kong answers 500). */
  ending: { kind: "ret" } | { kind: "exit"; response: KongResponse } | { kind: "lua-error"; message: string };
  /** Headers for the upstream, ctx.shared and the error log, after the phase. */
  state: PdkRequestState;
}

/** What the plugin side puts in the pipe when its handler has settled (kong-pdk's "ret"). */
const PHASE_DONE = Symbol("phase done");

/** A PDK call as Kong decodes it from the plugin server's msgpack. */
function receiveCall(message: unknown): { Method: string; Args: unknown } {
  return decode(encode(message)) as { Method: string; Args: unknown };
}

/** A Step's Data as the plugin server decodes it: Kong leaves out a nil Data, which the plugin reads as undefined. */
function sendStepData(data: unknown): unknown {
  return (decode(encode({ Data: data }, { ignoreUndefined: true })) as { Data?: unknown }).Data;
}

/**
 * Runs `handler` (a plugin's access phase, given kong-pdk's `kong` object) for `request` on a route
 * `/mcp`, answering every PDK call as Kong 3.9 would. A PDK call after kong.response.exit, which
 * Kong never answers, rejects instead of hanging.
 */
export async function runAccessPhaseInProcess(
  handler: (kong: unknown) => unknown,
  request: KongRequest,
  options: InProcessPhaseOptions = {},
): Promise<InProcessPhase> {
  const received = receiveRequest(request);
  const normalizedPath = normalizePath(rawPathOf(received.requestUri));
  const state = createPdkRequestState(
    received,
    { routeId: "in-process", routePaths: [normalizedPath], stripPath: false, serviceId: undefined, pluginId: "in-process", normalizedPath, matchedPath: normalizedPath },
    { isTrusted: createTrustedIpMatcher(options.trustedIps ?? []), clientBodyBufferSize: options.clientBodyBufferSize ?? 8192, nodeId: randomUUID() },
  );
  const record: PhaseRecord = { pdkCalls: [], unknownPdkCalls: [], retriedAfterNoPluginInstance: false };
  const [kongEnd, pluginEnd] = new PipePair().getPair();
  // The plugin server runs the phase, then tells Kong it is over; an exception ends it the same way.
  void Promise.resolve()
    .then(() => handler(new PDK(pluginEnd).kong))
    .catch(() => undefined)
    .then(() => pluginEnd.put(PHASE_DONE));
  let ending: InProcessPhase["ending"] | undefined;
  while (ending === undefined) {
    const message = await kongEnd.get();
    if (message === PHASE_DONE) {
      ending = { kind: "ret" };
      continue;
    }
    const { Method: method, Args: args } = receiveCall(message);
    try {
      const answer = await answerPdkCall(state, method, args, record, "in-process");
      if (answer.kind === "exit") ending = answer;
      else kongEnd.put([sendStepData(answer.data), undefined]);
    } catch (error) {
      if (!(error instanceof LuaError)) throw error;
      ending = { kind: "lua-error", message: error.message };
    }
  }
  if (ending.kind === "exit") {
    // The plugin's exit call returns at once; whatever it sends next, Kong never answers.
    const next = await kongEnd.get();
    if (next !== PHASE_DONE) throw new Error(`PDK call ${receiveCall(next).Method} after kong.response.exit: Kong would never answer it`);
  }
  return { ...record, ending, state };
}
