import { describeTokenHolder, isExpired, type VerifiedToken } from "./access-token-verifier";
import { extractBearerToken } from "./bearer-credential";
import { ConfigError } from "./config-error";
import { CLEARED_CONSUMER_HEADERS, describeConsumerHeaders, identifyConsumer, type ConsumerCache, type ConsumerHeaders, type ConsumerIdentity, type ConsumerLoader } from "./consumer-identity";
import { recordDecision, type DecisionRecord, type DecisionTrail } from "./decision-record";
import type { GatePolicy } from "./gate-config";
import { answerDocument, renderRefusal, toRefusal, type ChallengeContext, type GateResponse } from "./gate-response";
import { checkBodyHeaders, checkJsonContentType } from "./json-body-headers";
import { listAuthorizedCalls, readJsonRpcBody, type JsonRpcBody, type JsonRpcCall } from "./json-rpc-calls";
import type { JwksRegistry } from "./jwks-registry";
import { describeListing, seesEveryListWhole, type SharedListing } from "./list-filter";
import { checkStandardHeaders, hasStandardHeaders } from "./mcp-standard-headers";
import { findDeniedCalls, findStepUpScopes, findSufficientScopes, grantsAnything, isSessionCall, type MethodAcl } from "./method-acl";
import { buildProtectedResourceMetadata, encodeUrlPath, formatResourceMetadataUrl, matchMetadataRequest } from "./protected-resource-metadata";
import {
  BodyTooLarge,
  GateFailure,
  InsufficientScope,
  InvalidJsonRpc,
  InvalidRequest,
  InvalidToken,
  MetadataMethodNotAllowed,
  MissingToken,
  formatOperatorLog,
  type OperatorLog,
  type OperatorLogLevel,
  ProtocolUpgradeRefused,
  type Refusal,
  shortenText,
} from "./refusals";
import { hashToken, type TokenCache } from "./token-cache";
import { verifyOrIntrospect, type TokenIntrospector } from "./token-introspection";

/** Request headers as Kong's header map gives them: lower-case names, every value. */
export type HeaderMap = ReadonlyMap<string, readonly string[]>;

/**
 * The request, read lazily: each fact costs a PDK round trip under Kong, so the decision asks
 * only for what it needs (and asks each at most once).
 */
export interface RequestSource {
  path(): Promise<string>;
  method(): Promise<string>;
  headers(): Promise<HeaderMap>;
  /** The raw body, or undefined when Kong cannot hand it over within `maxBytes`. */
  body(maxBytes: number): Promise<Uint8Array | undefined>;
  /** scheme://host[:port] as the client reached Kong (forwarded headers from trusted proxies). */
  forwardedOrigin(): Promise<string>;
  /** Kong's consumer lookup for this request; the consumer cache decides when to ask. */
  loadConsumer: ConsumerLoader;
}

/** Module-level state shared by every instance: key sets, introspection, verified tokens, the clock. */
export interface GateServices {
  readonly registry: JwksRegistry;
  readonly introspector: TokenIntrospector;
  readonly tokenCache: TokenCache;
  readonly consumerCache: ConsumerCache;
  /** Milliseconds since the epoch. */
  now(): number;
}

/**
 * What other plugins find in kong.ctx.shared.mcp_oauth2. With filter_lists, for
 * mcp-oauth2-list-filter: `filter_lists`, and `listing` for a request that lists items the token
 * may not all see.
 */
export type SharedContext =
  | {
      readonly subject?: string;
      readonly issuer: string;
      readonly client_id?: string;
      readonly scopes: readonly string[];
      readonly filter_lists?: true;
      readonly listing?: SharedListing;
    }
  | { readonly preflight: true };

/** What Kong learns besides the answer: who the request is (for other plugins) and the decision (for log plugins). */
interface KongFacts {
  readonly identity?: ConsumerIdentity;
  readonly record?: DecisionRecord;
}

export type Decision =
  | ({ readonly kind: "respond"; readonly response: GateResponse; readonly log?: OperatorLog } & KongFacts)
  | ({
      readonly kind: "proceed";
      readonly shared: SharedContext;
      readonly clearHeaders: readonly string[];
      readonly setHeaders: readonly (readonly [string, string])[];
      /**
       * filter_lists: the list filter on the route has nothing to filter in this response, so
       * Kong should stream it instead of buffering it whole (its SSE stream stays a stream).
       */
      readonly turnOffResponseBuffering: boolean;
      /** filter_lists: the body to send upstream instead of the client's (list requests under the gateway's ids). */
      readonly upstreamBody?: string;
      /** Kong's X-Consumer-* and X-Credential-Identifier headers, for kong.service.request.set_headers. */
      readonly consumerHeaders?: ConsumerHeaders;
      readonly log?: OperatorLog;
    } & KongFacts);

type Writable<T> = { -readonly [Key in keyof T]: T[Key] };

/** Streamable HTTP's GET (SSE stream) and DELETE (session end), HEAD, and CORS preflights carry no body. */
const BODILESS_METHODS = new Set(["GET", "HEAD", "DELETE", "OPTIONS"]);

/**
 * The largest body a request without a valid token gets read for, to choose the scopes its 401
 * asks for; larger ones get scopes_supported. Work before authentication stays small.
 */
const MAX_CHALLENGE_BODY = 16384;
/** Client-chosen text (the path) in an operator log line; the whole line is bounded too. */
const MAX_LOGGED_PATH = 200;

/** Methods a client sends before it knows what it will do: their 401 asks for the usual scopes. */
const LIFECYCLE_METHODS = new Set(["initialize", "ping", "server/discover", "subscriptions/listen"]);

function askOnce<T>(read: () => Promise<T>): () => Promise<T> {
  let answer: Promise<T> | undefined;
  return () => (answer ??= read());
}

/** The same source, asking the underlying one at most once per fact. */
function rememberAnswers(source: RequestSource): RequestSource {
  let body: Promise<Uint8Array | undefined> | undefined;
  return {
    loadConsumer: source.loadConsumer,
    path: askOnce(() => source.path()),
    method: askOnce(() => source.method()),
    headers: askOnce(() => source.headers()),
    body: (maxBytes) => (body ??= source.body(maxBytes)),
    forwardedOrigin: askOnce(() => source.forwardedOrigin()),
  };
}

function firstHeader(headers: HeaderMap, name: string): string | undefined {
  return headers.get(name)?.[0];
}

/** Client-chosen item names in refusals: a refusal must not echo a megabyte back, or into the log. */
const MAX_CALL_DESCRIPTION = 100;

function describeCalls(calls: readonly JsonRpcCall[]): string {
  const shown = calls
    .slice(0, 3)
    .map((call) => shortenText(call.item === undefined ? call.method : `${call.method} ${call.item}`, MAX_CALL_DESCRIPTION))
    .join(", ");
  return calls.length > 3 ? `${shown} and ${calls.length - 3} more` : shown;
}

async function answerMetadataRequest(policy: GatePolicy, request: RequestSource, resourcePath: string): Promise<Decision> {
  const method = await request.method();
  if (method !== "GET" && method !== "HEAD") throw new MetadataMethodNotAllowed();
  const origin = policy.resourceOrigin ?? (await request.forwardedOrigin());
  return { kind: "respond", response: answerDocument(buildProtectedResourceMetadata(policy, origin, encodeUrlPath(resourcePath))) };
}

async function authenticate(policy: GatePolicy, token: string, services: GateServices): Promise<VerifiedToken> {
  const nowSeconds = services.now() / 1000;
  const tokenKey = hashToken(token);
  const cached = services.tokenCache.get(policy, tokenKey);
  if (cached !== undefined) {
    // The cache keeps entries until exp at the latest, but expiry is judged on every request.
    if (isExpired(cached.expiresAt, policy.verification.clockSkewSeconds, nowSeconds)) throw new InvalidToken("the token has expired");
    return cached;
  }
  const verified = await verifyOrIntrospect(token, tokenKey, policy, services, nowSeconds);
  services.tokenCache.remember(policy, tokenKey, verified, nowSeconds);
  return verified;
}

/**
 * The JSON-RPC body of the request, read up to `maxBytes`; undefined for a bodiless GET/DELETE
 * (SSE stream, session end). Headers that would make the upstream decode it differently are
 * refused first.
 */
async function readJsonRpcRequest(request: RequestSource, headers: HeaderMap, maxBytes: number): Promise<JsonRpcBody | undefined> {
  checkBodyHeaders(headers);
  const tooLarge = `the request body is larger than ${maxBytes} bytes`;
  if (Number(firstHeader(headers, "content-length")) > maxBytes) throw new BodyTooLarge(tooLarge);
  const body = await request.body(maxBytes);
  if (body === undefined) {
    throw new BodyTooLarge(
      "the request body could not be read within the size limit",
      `Kong did not hand over the body: larger than max_body_size (${maxBytes}) or, before Kong 3.8, larger than client_body_buffer_size`,
    );
  }
  if (body.length > maxBytes) throw new BodyTooLarge(tooLarge);
  if (body.length === 0) {
    // Only methods known to carry no JSON-RPC message may come without one; anything else is refused.
    if (!BODILESS_METHODS.has(await request.method())) throw new InvalidJsonRpc("the request has no JSON-RPC body", -32600);
    return undefined;
  }
  checkJsonContentType(firstHeader(headers, "content-type"));
  return readJsonRpcBody(body);
}

function refuseEmptyMapping(acl: MethodAcl): void {
  if (acl.entries.length === 0) {
    throw new InsufficientScope("no JSON-RPC method is allowed on this resource", "scope_method_mapping is empty, so the ACL refuses every request", []);
  }
}

/**
 * A token none of whose scopes the ACL knows is allowed nothing, so its body is not worth reading:
 * refused before the body is read (a valid token costs no more than a missing one to turn away),
 * asking for the scopes a 401 would.
 */
async function refuseTokenWithoutGrant(policy: GatePolicy, acl: MethodAcl, request: RequestSource, verified: VerifiedToken): Promise<void> {
  refuseEmptyMapping(acl);
  if (grantsAnything(acl, verified.scopes)) return;
  throw new InsufficientScope(
    "the token's scopes allow nothing on this resource",
    `token of ${describeTokenHolder(verified)} holds [${verified.scopes.join(" ")}], none of which scope_method_mapping or scope_hierarchy names`,
    await findChallengeScopes(policy, request),
  );
}

function authorizeCalls(acl: MethodAcl, body: JsonRpcBody | undefined, verified: VerifiedToken): void {
  refuseEmptyMapping(acl);
  const denied = findDeniedCalls(acl, verified.scopes, listAuthorizedCalls(body?.calls ?? []));
  if (denied.length === 0) return;
  const required = findStepUpScopes(acl, denied, verified.scopes);
  throw new InsufficientScope(
    `the token's scopes do not allow ${describeCalls(denied)}`,
    `insufficient scope for ${describeCalls(denied)}: token of ${describeTokenHolder(verified)} holds [${verified.scopes.join(" ")}], ${required.length > 0 ? `would need [${required.join(" ")}]` : "no configured scope allows it"}`,
    required,
  );
}

/**
 * What the upstream request's headers need: the token header cleared (MCP forbids token passthrough)
 * unless the operator opts in, identity headers set from `identityValues` or cleared when absent,
 * replacing whatever the client sent under those names (anti-spoofing).
 */
function rewriteUpstreamHeaders(policy: GatePolicy, identityValues: readonly (string | undefined)[]): Pick<Extract<Decision, { kind: "proceed" }>, "clearHeaders" | "setHeaders"> {
  const clearHeaders = policy.forwardToken ? [] : [policy.tokenHeader];
  const setHeaders: (readonly [string, string])[] = [];
  policy.identityHeaders.forEach(({ header }, index) => {
    const value = identityValues[index];
    if (value === undefined) clearHeaders.push(header);
    else setHeaders.push([header, value]);
  });
  return { clearHeaders, setHeaders };
}

/**
 * Streamable HTTP's resumption header: the upstream replays the events after it from its event
 * store, the responses to list requests among them, unfiltered and on a stream Kong does not buffer.
 */
const LAST_EVENT_ID = "last-event-id";

function proceed(policy: GatePolicy, verified: VerifiedToken, body: JsonRpcBody | undefined, resumesStream: boolean, trail: DecisionTrail, log: OperatorLog | undefined, wouldRefuse: InsufficientScope | undefined): Decision {
  // Absent claims are left out, not set to undefined. Built by assignment: V8 copies conditional
  // spreads on a slow path, measured at 3 of the 12 µs a cached request cost the plugin.
  const shared: { subject?: string; issuer: string; client_id?: string; scopes: readonly string[]; filter_lists?: true; listing?: SharedListing } = {
    issuer: verified.issuer,
    scopes: verified.scopes,
  };
  if (verified.subject !== undefined) shared.subject = verified.subject;
  if (verified.clientId !== undefined) shared.client_id = verified.clientId;
  const listAcl = policy.filterLists ? policy.acl : null;
  const listed = listAcl !== null ? describeListing(listAcl, verified.scopes, body, policy.aclDryRun) : undefined;
  // Tells the list filter that an absent listing means "nothing to filter", not "not handed over".
  if (policy.filterLists) shared.filter_lists = true;
  if (listed !== undefined) shared.listing = listed.listing;
  const { clearHeaders, setHeaders } = rewriteUpstreamHeaders(policy, verified.identityValues);
  // A token that may not see every list whole gets no replay: its stream resumes without one.
  const withoutReplay = listAcl !== null && resumesStream && !policy.aclDryRun && !seesEveryListWhole(listAcl, verified.scopes);
  const decision: Writable<Extract<Decision, { kind: "proceed" }>> = {
    kind: "proceed",
    shared,
    clearHeaders: withoutReplay ? [...clearHeaders, LAST_EVENT_ID] : clearHeaders,
    setHeaders,
    turnOffResponseBuffering: policy.filterLists && listed === undefined,
    log,
  };
  if (listed?.upstreamBody !== undefined) decision.upstreamBody = listed.upstreamBody;
  if (trail.identity !== undefined) {
    decision.identity = trail.identity;
    decision.consumerHeaders = describeConsumerHeaders(trail.identity);
  }
  if (policy.logDecisions) decision.record = recordDecision(policy, trail, wouldRefuse === undefined ? "allowed" : "would_refuse", wouldRefuse);
  return decision;
}

async function admit(policy: GatePolicy, request: RequestSource, services: GateServices, trail: DecisionTrail): Promise<Decision> {
  const path = await request.path();
  const metadataRequest = matchMetadataRequest(policy.metadataPath, path);
  if (metadataRequest !== undefined) return answerMetadataRequest(policy, request, metadataRequest.resourcePath);
  const headers = await request.headers();
  const verified = await authenticate(policy, extractBearerToken(headers.get(policy.tokenHeaderKey)), services);
  trail.verified = verified;
  // Identified before the ACL decides, as Kong runs authentication plugins before authorization ones.
  if (policy.consumerMapping !== null) trail.identity = await identifyConsumer(policy.consumerMapping, verified, request.loadConsumer, services.consumerCache);
  // After an upgrade the connection carries messages the ACL never sees (WebSocket frames).
  const upgrade = headers.get("upgrade");
  if (policy.acl !== null && upgrade !== undefined) throw new ProtocolUpgradeRefused(upgrade.join(", "));
  if (policy.acl !== null && !policy.aclDryRun) await refuseTokenWithoutGrant(policy, policy.acl, request, verified);
  const body = policy.acl !== null || hasStandardHeaders(headers) ? await readJsonRpcRequest(request, headers, policy.maxBodySize) : undefined;
  trail.calls = body?.calls;
  checkStandardHeaders(headers, body);
  let log: OperatorLog | undefined;
  let wouldRefuse: InsufficientScope | undefined;
  if (policy.acl !== null) {
    try {
      authorizeCalls(policy.acl, body, verified);
    } catch (error) {
      if (!(error instanceof InsufficientScope && policy.aclDryRun)) throw error;
      wouldRefuse = error;
      log = formatOperatorLog("notice", `dry run: would refuse 403 on ${shortenText(path, MAX_LOGGED_PATH)}: ${error.detail}`);
    }
  }
  return proceed(policy, verified, body, headers.has(LAST_EVENT_ID), trail, log, wouldRefuse);
}

/**
 * The scopes a 401 asks for. With the ACL on, the narrowest scopes allowing the calls in the body
 * (a client then asks for least privilege); for the lifecycle and the session methods, GET,
 * unreadable bodies, calls no scope allows, bodies without a Content-Length of at most
 * MAX_CHALLENGE_BODY, and with the ACL off: scopes_supported, the usual set a session starts with.
 */
async function findChallengeScopes(policy: GatePolicy, request: RequestSource): Promise<readonly string[]> {
  if (policy.acl === null) return policy.scopesSupported;
  const headers = await request.headers();
  // Only a declared length keeps the read small: Kong answers 500 when a file-buffered body
  // (chunked, over client_body_buffer_size) is larger than the limit get_raw_body is given.
  if (!(Number(firstHeader(headers, "content-length") ?? Infinity) <= MAX_CHALLENGE_BODY)) return policy.scopesSupported;
  let body: JsonRpcBody | undefined;
  try {
    body = await readJsonRpcRequest(request, headers, Math.min(MAX_CHALLENGE_BODY, policy.maxBodySize));
  } catch {
    // An unreadable body names no calls: scopes_supported.
  }
  const { acl } = policy;
  const calls = listAuthorizedCalls(body?.calls ?? []).filter((call) => !LIFECYCLE_METHODS.has(call.method) && !call.method.startsWith("notifications/") && !isSessionCall(acl, call));
  // No calls need no scope: scopes_supported too.
  const sufficient = findSufficientScopes(acl, calls);
  return sufficient.length > 0 ? sufficient : policy.scopesSupported;
}

async function describeChallenge(policy: GatePolicy, request: RequestSource, refusal: Refusal): Promise<ChallengeContext> {
  const origin = policy.resourceOrigin ?? (await request.forwardedOrigin());
  const resourceMetadataUrl = formatResourceMetadataUrl(origin, policy.metadataPath, encodeUrlPath(await request.path()));
  const asksForToken = refusal instanceof MissingToken || refusal instanceof InvalidToken;
  return asksForToken ? { resourceMetadataUrl, scopes: await findChallengeScopes(policy, request) } : { resourceMetadataUrl };
}

/** Refusals answered with a `WWW-Authenticate: Bearer` challenge (RFC 6750 §3). */
function needsChallenge(refusal: Refusal): boolean {
  return refusal instanceof MissingToken || refusal instanceof InvalidRequest || refusal instanceof InvalidToken || refusal instanceof InsufficientScope;
}

/**
 * The level and text of a refusal's log line. Client errors (400, 415) have no level of their own:
 * once the token is verified they are logged at notice with whom it speaks for, so an operator can
 * find the client; before that, as for a missing token, anyone could fill the log without a
 * credential.
 */
function describeRefusalLog(refusal: Refusal, verified: VerifiedToken | undefined): { readonly level: OperatorLogLevel; readonly detail: string } | undefined {
  if (refusal.logLevel !== undefined) return { level: refusal.logLevel, detail: refusal.detail };
  if (verified === undefined) return undefined;
  return { level: "notice", detail: `${refusal.detail} (token of ${describeTokenHolder(verified)})` };
}

async function refuse(policy: GatePolicy, request: RequestSource, refusal: Refusal, trail: DecisionTrail): Promise<Decision> {
  let context: ChallengeContext = {};
  let answered = refusal;
  if (needsChallenge(refusal)) {
    try {
      context = await describeChallenge(policy, request, refusal);
    } catch (error) {
      // An unusable Host: refuse for that reason instead, without a metadata URL.
      answered = toRefusal(error);
    }
  }
  // Kong's log plugins then record who was refused, as after Kong's own acl plugin.
  const decision: Writable<Extract<Decision, { kind: "respond" }>> = { kind: "respond", response: renderRefusal(answered, context), identity: trail.identity };
  const logged = describeRefusalLog(answered, trail.verified);
  if (logged !== undefined) decision.log = formatOperatorLog(logged.level, `${answered.status} on ${shortenText(await request.path(), MAX_LOGGED_PATH)}: ${logged.detail}`);
  if (policy.logDecisions) decision.record = recordDecision(policy, trail, "refused", answered);
  return decision;
}

/** A refusal without challenge context, logged at err in a single line: for failures of the gate itself. */
export function failClosed(failure: Refusal): Decision & { readonly kind: "respond"; readonly log: OperatorLog } {
  return { kind: "respond", response: renderRefusal(failure, {}), log: formatOperatorLog("err", failure.detail) };
}

/**
 * The gate's one decision for a request on the route: answer protected resource metadata (RFC
 * 9728), refuse (status, challenge and JSON body), or let it through with the verified identity.
 * Never throws: anything unexpected becomes a 500 refusal.
 */
export async function decideAccess(policy: GatePolicy | ConfigError, source: RequestSource, services: GateServices): Promise<Decision> {
  const request = rememberAnswers(source);
  if (policy instanceof ConfigError) {
    return failClosed(new GateFailure("the gateway's mcp-oauth2 configuration is invalid", `invalid configuration: ${policy.message}`));
  }
  const trail: DecisionTrail = {};
  try {
    return await admit(policy, request, services, trail);
  } catch (error) {
    try {
      // Kong's run_on_preflight=false: CORS preflights pass without a token.
      if (!policy.runOnPreflight && (await request.method()) === "OPTIONS") {
        // No verified identity: client-sent identity and consumer headers must not reach the upstream either.
        const preflight: Writable<Decision & { kind: "proceed" }> = { kind: "proceed", shared: { preflight: true }, ...rewriteUpstreamHeaders(policy, []), turnOffResponseBuffering: policy.filterLists };
        if (policy.consumerMapping !== null) preflight.consumerHeaders = CLEARED_CONSUMER_HEADERS;
        return policy.logDecisions ? { ...preflight, record: { decision: "allowed", preflight: true } } : preflight;
      }
      return await refuse(policy, request, toRefusal(error), trail);
    } catch (secondError) {
      return failClosed(toRefusal(secondError));
    }
  }
}
