import { LRUCache } from "lru-cache";
import { decideAccess, failClosed, type Decision, type GateServices, type HeaderMap, type RequestSource } from "./core/access-decision";
import { ConfigError } from "./core/config-error";
import { ConsumerCache, type ConsumerHeaders, type ConsumerIdentity, type KongConsumer, type TokenCredential } from "./core/consumer-identity";
import type { DecisionRecord } from "./core/decision-record";
import { compileGatePolicy, type GatePolicy } from "./core/gate-config";
import { toRefusal } from "./core/gate-response";
import { JwksRegistry } from "./core/jwks-registry";
import { formatForwardedOrigin } from "./core/public-origin";
import { InvalidRequest } from "./core/refusals";
import { TokenCache } from "./core/token-cache";
import { TokenIntrospector } from "./core/token-introspection";

/**
 * The PDK calls this plugin makes, typed as they arrive over Kong's msgpack bridge: only the first
 * Lua return value, nil as undefined, header values as arrays, the raw body as bytes.
 */
interface KongPdk {
  request: {
    get_path(): Promise<string>;
    get_method(): Promise<string>;
    get_headers(maxHeaders: number): Promise<Record<string, string | string[]> | undefined>;
    get_raw_body(maxBytes: number): Promise<Uint8Array | string | undefined>;
    get_forwarded_scheme(): Promise<string>;
    get_forwarded_host(): Promise<string>;
    get_forwarded_port(): Promise<number | undefined>;
  };
  client: {
    load_consumer(value: string, byUsername: boolean): Promise<unknown>;
    authenticate(consumer: KongConsumer, credential?: TokenCredential): Promise<void>;
  };
  response: { exit(status: number, body: string, headers: Record<string, string>): Promise<void> };
  service: {
    request: {
      clear_header(name: string): Promise<void>;
      set_header(name: string, value: string): Promise<void>;
      set_headers(headers: ConsumerHeaders): Promise<void>;
      set_raw_body(body: string): Promise<void>;
    };
  };
  ctx: { shared: { set(key: string, value: unknown): Promise<void> } };
  nginx: { set_ctx(key: "authenticated_credential", value: TokenCredential): Promise<void>; set_ctx(key: "buffered_proxying", value: false): Promise<void> };
  log: Record<"err" | "warn" | "notice", (message: string) => Promise<void>> & {
    set_serialize_value(key: string, value: DecisionRecord): Promise<void>;
  };
}

/** Kong's get_headers accepts at most 1000; a request with more fields is refused (see toHeaderMap). */
const MAX_HEADERS = 1000;
const SHARED_CONTEXT_KEY = "mcp_oauth2";
/**
 * Kong 3.9 sets ngx.ctx.buffered_proxying while it collects a plugin with a response phase (the
 * list filter), and buffers the whole upstream response when it is still set after the access
 * phase (kong/runloop/plugins_iterator.lua, Kong.access in kong/init.lua).
 */
const RESPONSE_BUFFERING_KEY = "buffered_proxying";
/** The key of the decision in kong.log.serialize(), which log plugins write. */
const SERIALIZE_KEY = "mcp_oauth2";

/** Shared by every instance in this process: instances are recreated per worker and config change. */
const services: GateServices = { registry: new JwksRegistry(), introspector: new TokenIntrospector(), tokenCache: new TokenCache(), consumerCache: new ConsumerCache(), now: Date.now };

/** A config compiled, or why it cannot be. */
function compileOrExplain(config: unknown): GatePolicy | ConfigError {
  try {
    return compileGatePolicy(config);
  } catch (error) {
    return error instanceof ConfigError ? error : new ConfigError("config", String(error));
  }
}

/** Each distinct config compiled once (Kong sends the same one for each worker), keyed by its JSON. */
const compiledPolicies = new LRUCache<string, GatePolicy | ConfigError, unknown>({ max: 64, memoMethod: (_json, _stale, { context: config }) => compileOrExplain(config) });

function toHeaderMap(headers: Record<string, string | string[]> | undefined): HeaderMap {
  const map = new Map<string, readonly string[]>();
  let fields = 0;
  for (const [name, value] of Object.entries(headers ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    fields += values.length;
    map.set(name.toLowerCase(), values);
  }
  // get_headers drops the fields past its limit: a second token or a contradicting Mcp-Method would
  // pass unseen. Refused before authentication, so not logged: the description is all there is.
  if (fields >= MAX_HEADERS) throw new InvalidRequest("the request has too many header fields");
  return map;
}

/** kong-pdk hands a body over as a string (its UTF-8 bytes) or as bytes. */
function toBytes(body: Uint8Array | string | undefined): Uint8Array | undefined {
  return typeof body === "string" ? Buffer.from(body) : body;
}

/** The request as the decision sees it: a PDK call per fact, made only when the decision asks. */
function readRequestFromKong(kong: KongPdk): RequestSource {
  return {
    path: () => kong.request.get_path(),
    method: () => kong.request.get_method(),
    headers: async () => toHeaderMap(await kong.request.get_headers(MAX_HEADERS)),
    body: async (maxBytes) => toBytes(await kong.request.get_raw_body(maxBytes)),
    forwardedOrigin: async () =>
      formatForwardedOrigin(await kong.request.get_forwarded_scheme(), await kong.request.get_forwarded_host(), await kong.request.get_forwarded_port()),
    loadConsumer: (value, byUsername) => kong.client.load_consumer(value, byUsername),
  };
}

/**
 * kong.client.authenticate, as Kong's authentication plugins call it. A credential without a
 * consumer cannot go through it: the bridge ends Args at the first nil, so authenticate(nil, c)
 * arrives as authenticate() and raises. It goes where authenticate puts it, ngx.ctx, which
 * kong.client.get_credential() reads.
 */
function authenticateWithKong(kong: KongPdk, identity: ConsumerIdentity): Promise<void> {
  if (identity.kind === "credential") return kong.nginx.set_ctx("authenticated_credential", identity.credential);
  return identity.kind === "consumer" ? kong.client.authenticate(identity.consumer, identity.credential) : kong.client.authenticate(identity.consumer);
}

async function carryOut(kong: KongPdk, decision: Decision): Promise<void> {
  if (decision.log !== undefined) await kong.log[decision.log.level](decision.log.message);
  if (decision.identity !== undefined) await authenticateWithKong(kong, decision.identity);
  if (decision.record !== undefined) await kong.log.set_serialize_value(SERIALIZE_KEY, decision.record);
  if (decision.kind === "respond") {
    // exit never returns under Kong: nothing may follow it.
    return kong.response.exit(decision.response.status, decision.response.body, { ...decision.response.headers });
  }
  for (const name of decision.clearHeaders) await kong.service.request.clear_header(name);
  for (const [name, value] of decision.setHeaders) await kong.service.request.set_header(name, value);
  if (decision.consumerHeaders !== undefined) await kong.service.request.set_headers(decision.consumerHeaders);
  // Kong sends it with its own Content-Length (ngx.req.set_body_data).
  if (decision.upstreamBody !== undefined) await kong.service.request.set_raw_body(decision.upstreamBody);
  if (decision.turnOffResponseBuffering) await kong.nginx.set_ctx(RESPONSE_BUFFERING_KEY, false);
  await kong.ctx.shared.set(SHARED_CONTEXT_KEY, decision.shared);
}

/**
 * The access phase: read the request once, decide once, answer once. Kong proxies a request
 * whose handler throws, so every failure here ends in a refusal.
 */
export class McpOAuth2Plugin {
  private readonly policy: GatePolicy | ConfigError;

  constructor(config: unknown) {
    this.policy = compiledPolicies.memo(JSON.stringify(config), { context: config });
  }

  async access(kong: KongPdk): Promise<void> {
    try {
      return await carryOut(kong, await decideAccess(this.policy, readRequestFromKong(kong), services));
    } catch (error) {
      const { response, log } = failClosed(toRefusal(error));
      // A log call that fails, even synchronously, must not cost the answer: Kong proxies a phase that throws.
      await Promise.resolve()
        .then(() => kong.log.err(log.message))
        .catch(() => undefined);
      return kong.response.exit(response.status, response.body, { ...response.headers });
    }
  }
}
