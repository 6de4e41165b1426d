import { isExpired, verifyAccessToken, type VerifiedToken } from "./access-token-verifier";
import { extractBearerToken } from "./bearer-credential";
import { ConfigError } from "./config-error";
import type { GatePolicy } from "./gate-config";
import { answerDocument, renderRefusal, toRefusal, type ChallengeContext, type GateResponse } from "./gate-response";
import { readJsonRpcCalls, type JsonRpcCall } from "./json-rpc-calls";
import type { JwksRegistry } from "./jwks-registry";
import { findDeniedCalls, findStepUpScopes, type MethodAcl } from "./method-acl";
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
  type OperatorLogLevel,
  type Refusal,
  UnsupportedMediaType,
} from "./refusals";
import type { TokenCache } from "./token-cache";

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
}

/** Module-level state shared by every instance: key sets, verified tokens, the clock. */
export interface GateServices {
  readonly registry: JwksRegistry;
  readonly tokenCache: TokenCache;
  /** Milliseconds since the epoch. */
  now(): number;
}

/** What other plugins find in kong.ctx.shared.mcp_oauth2. */
export type SharedContext =
  | { readonly subject?: string; readonly issuer: string; readonly client_id?: string; readonly scopes: readonly string[] }
  | { readonly preflight: true };

export interface OperatorLog {
  readonly level: OperatorLogLevel;
  readonly message: string;
}

export type Decision =
  | { readonly kind: "respond"; readonly response: GateResponse; readonly log?: OperatorLog }
  | { readonly kind: "proceed"; readonly shared: SharedContext; readonly clearHeaders: readonly string[] };

function askOnce<T>(read: () => Promise<T>): () => Promise<T> {
  let answer: Promise<T> | undefined;
  return () => (answer ??= read());
}

/** The same source, asking the underlying one at most once per fact. */
function rememberAnswers(source: RequestSource): RequestSource {
  let body: Promise<Uint8Array | undefined> | undefined;
  return {
    path: askOnce(() => source.path()),
    method: askOnce(() => source.method()),
    headers: askOnce(() => source.headers()),
    body: (maxBytes) => (body ??= source.body(maxBytes)),
    forwardedOrigin: askOnce(() => source.forwardedOrigin()),
  };
}

/** Refusals answered with a `WWW-Authenticate: Bearer` challenge (RFC 6750 §3). */
function needsChallenge(refusal: Refusal): boolean {
  return refusal instanceof MissingToken || refusal instanceof InvalidRequest || refusal instanceof InvalidToken || refusal instanceof InsufficientScope;
}

function firstHeader(headers: HeaderMap, name: string): string | undefined {
  return headers.get(name)?.[0];
}

function describeCall(call: JsonRpcCall): string {
  return call.item === undefined ? call.method : `${call.method} ${call.item}`;
}

function describeCalls(calls: readonly JsonRpcCall[]): string {
  const shown = calls.slice(0, 3).map(describeCall).join(", ");
  return calls.length > 3 ? `${shown} and ${calls.length - 3} more` : shown;
}

async function answerMetadataRequest(policy: GatePolicy, request: RequestSource, resourcePath: string): Promise<Decision> {
  const method = await request.method();
  if (method !== "GET" && method !== "HEAD") throw new MetadataMethodNotAllowed(method);
  const origin = policy.resourceOrigin ?? (await request.forwardedOrigin());
  return { kind: "respond", response: answerDocument(buildProtectedResourceMetadata(policy, origin, encodeUrlPath(resourcePath))) };
}

async function authenticate(policy: GatePolicy, token: string, services: GateServices): Promise<VerifiedToken> {
  const nowSeconds = services.now() / 1000;
  const cached = services.tokenCache.get(policy, token);
  if (cached !== undefined) {
    // The cache keeps entries until exp at the latest, but expiry is judged on every request.
    if (isExpired(cached.expiresAt, policy.verification.clockSkewSeconds, nowSeconds)) throw new InvalidToken("the token has expired");
    return cached;
  }
  const verified = await verifyAccessToken(token, policy.verification, services.registry, nowSeconds);
  services.tokenCache.remember(policy, token, verified, nowSeconds);
  return verified;
}

/** MCP Streamable HTTP posts application/json; other media types could be read differently upstream. */
function checkJsonMediaType(contentType: string | undefined): void {
  const mediaType = contentType?.split(";")[0].trim().toLowerCase();
  if (mediaType !== "application/json" && !mediaType?.endsWith("+json")) {
    throw new UnsupportedMediaType("JSON-RPC bodies must be sent as application/json", `content-type ${JSON.stringify(contentType ?? null)}`);
  }
}

/** The JSON-RPC calls of the request; none for a bodiless GET/DELETE (SSE stream, session end). */
async function readCalls(policy: GatePolicy, request: RequestSource, headers: HeaderMap): Promise<JsonRpcCall[]> {
  const tooLarge = `the request body is larger than ${policy.maxBodySize} bytes`;
  if (Number(firstHeader(headers, "content-length")) > policy.maxBodySize) throw new BodyTooLarge(tooLarge);
  const body = await request.body(policy.maxBodySize);
  if (body === undefined) {
    throw new BodyTooLarge(
      "the request body could not be read within the size limit",
      `Kong did not hand over the body: larger than max_body_size (${policy.maxBodySize}) or, before Kong 3.8, larger than client_body_buffer_size`,
    );
  }
  if (body.length > policy.maxBodySize) throw new BodyTooLarge(tooLarge);
  if (body.length === 0) {
    const method = await request.method();
    if (method === "POST" || method === "PUT" || method === "PATCH") throw new InvalidJsonRpc("the request has no JSON-RPC body", -32600);
    return [];
  }
  checkJsonMediaType(firstHeader(headers, "content-type"));
  return readJsonRpcCalls(body);
}

async function authorizeCalls(policy: GatePolicy, acl: MethodAcl, request: RequestSource, headers: HeaderMap, verified: VerifiedToken): Promise<void> {
  if (acl.entries.length === 0) {
    throw new InsufficientScope("no JSON-RPC method is allowed on this resource", "scope_method_mapping is empty, so the ACL refuses every request", []);
  }
  const calls = await readCalls(policy, request, headers);
  const denied = findDeniedCalls(acl, verified.scopes, calls);
  if (denied.length === 0) return;
  const required = findStepUpScopes(acl, denied, verified.scopes);
  throw new InsufficientScope(
    `the token's scopes do not allow ${describeCalls(denied)}`,
    `insufficient scope for ${describeCalls(denied)}: token of ${verified.subject ?? verified.clientId ?? "unknown subject"} holds [${verified.scopes.join(" ")}], ${required.length > 0 ? `would need [${required.join(" ")}]` : "no configured scope allows it"}`,
    required,
  );
}

function shareIdentity(verified: VerifiedToken): SharedContext {
  return {
    ...(verified.subject === undefined ? {} : { subject: verified.subject }),
    issuer: verified.issuer,
    ...(verified.clientId === undefined ? {} : { client_id: verified.clientId }),
    scopes: verified.scopes,
  };
}

async function admit(policy: GatePolicy, request: RequestSource, services: GateServices): Promise<Decision> {
  const metadataRequest = matchMetadataRequest(policy.metadataPath, await request.path());
  if (metadataRequest !== undefined) return answerMetadataRequest(policy, request, metadataRequest.resourcePath);
  const headers = await request.headers();
  const verified = await authenticate(policy, extractBearerToken(headers.get(policy.tokenHeaderKey)), services);
  if (policy.acl !== null) await authorizeCalls(policy, policy.acl, request, headers, verified);
  // MCP forbids token passthrough: the upstream gets the token only when the operator opts in.
  return { kind: "proceed", shared: shareIdentity(verified), clearHeaders: policy.forwardToken ? [] : [policy.tokenHeader] };
}

async function describeChallenge(policy: GatePolicy, request: RequestSource): Promise<ChallengeContext> {
  const origin = policy.resourceOrigin ?? (await request.forwardedOrigin());
  return {
    resourceMetadataUrl: formatResourceMetadataUrl(origin, policy.metadataPath, encodeUrlPath(await request.path())),
    scopes: policy.scopesSupported,
  };
}

function logRefusal(refusal: Refusal, path: string): { log?: OperatorLog } {
  if (refusal.logLevel === undefined) return {};
  return { log: { level: refusal.logLevel, message: `mcp-oauth2: ${refusal.status} on ${path}: ${refusal.detail}` } };
}

async function refuse(policy: GatePolicy, request: RequestSource, refusal: Refusal): Promise<Decision> {
  let context: ChallengeContext = {};
  let answered = refusal;
  if (needsChallenge(refusal)) {
    try {
      context = await describeChallenge(policy, request);
    } catch (error) {
      // An unusable Host: refuse for that reason instead, without a metadata URL.
      answered = toRefusal(error);
    }
  }
  return { kind: "respond", response: renderRefusal(answered, context), ...logRefusal(answered, await request.path()) };
}

function failClosed(failure: Refusal): Decision {
  return { kind: "respond", response: renderRefusal(failure, {}), log: { level: "err", message: `mcp-oauth2: ${failure.detail}` } };
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
  try {
    return await admit(policy, request, services);
  } catch (error) {
    try {
      // Kong's run_on_preflight=false: CORS preflights pass without a token.
      if (!policy.runOnPreflight && (await request.method()) === "OPTIONS") return { kind: "proceed", shared: { preflight: true }, clearHeaders: [] };
      return await refuse(policy, request, toRefusal(error));
    } catch (secondError) {
      return failClosed(toRefusal(secondError));
    }
  }
}
