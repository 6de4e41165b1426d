import { LRUCache } from "lru-cache";
import { checkTokenLength, describeValue, hasJwtShape, readVerifiedClaims, verifyAccessToken, type JsonObject, type VerifiedToken } from "./access-token-verifier";
import { checksJwtRevocation, type AuthorizationServer, type IntrospectionEndpoint, type VerificationPolicy } from "./gate-config";
import type { JwksRegistry } from "./jwks-registry";
import { describeFetchError, postBoundedForm, type FormPost, type HttpAnswer } from "./outbound-http";
import { IntrospectionUnavailable, InvalidToken } from "./refusals";
import { DuplicateKeyError, isJsonObject, parseJsonWithUniqueKeys } from "./unique-key-json";

/** Sends an introspection request (RFC 7662 §2.1) within its time limit; replaceable for tests of the introspector alone. */
export type PostIntrospection = (request: FormPost) => Promise<HttpAnswer>;

/** What the introspector needs of a gate policy (GatePolicy has it all). */
export interface IntrospectionSettings {
  readonly verification: VerificationPolicy;
  /** Refusals are remembered per verification settings, as verdicts are (token-cache.ts). */
  readonly verificationFingerprint: string;
  readonly introspectionNegativeCacheTtlSeconds: number;
}

/** An answer carries a token's claims: a few KB even for Keycloak's role-laden tokens. */
const MAX_INTROSPECTION_BYTES = 64 * 1024;
/**
 * Calls in flight at once per introspection endpoint, in two budgets. Past its limit, a token gets
 * 503 (Retry-After 1) at once instead of one more outbound call, so a flood cannot pile up sockets
 * or waiting requests. Anyone can send opaque tokens: a flood of them spends the opaque budget
 * only. A revocation check needs a JWT that passed local verification (a valid signature), so it
 * keeps a budget of its own. Per endpoint, so that one slow server does not starve another.
 */
export const MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT = 64;
export const MAX_REVOCATION_CHECKS_PER_ENDPOINT = 64;
/** Retry-After of a token not asked about because its endpoint's budget was spent. */
const BUSY_RETRY_AFTER_SECONDS = 1;
/** A failed introspection is remembered (and Retry-After says) this long, per token. */
export const INTROSPECTION_RETRY_AFTER_SECONDS = 5;
/** Tokens whose refusal is remembered; each entry is a few hundred bytes. */
export const MAX_REMEMBERED_REFUSALS = 10_000;
/** RFC 6749 §5.2 and RFC 7662 §2.3 error codes worth an operator's attention; other text is never logged. */
const KNOWN_ERROR_CODES = new Set(["invalid_client", "invalid_request", "unauthorized_client", "unsupported_token_type", "invalid_token", "access_denied", "server_error", "temporarily_unavailable"]);

/** The endpoint's budget was spent: the token was not asked about, so the refusal is never remembered for it. */
class IntrospectionBusy extends IntrospectionUnavailable {}

/** Calls in flight per endpoint URL for one purpose, at most `limit` each. */
class CallBudget {
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly purpose: string,
    private readonly limit: number,
  ) {}

  /** Takes a call slot at `url`; IntrospectionBusy when all are taken. */
  take(url: string): void {
    const taken = this.inFlight.get(url) ?? 0;
    if (taken >= this.limit) throw new IntrospectionBusy(`introspection endpoint ${url} not asked: ${this.limit} ${this.purpose} are in flight there already`, BUSY_RETRY_AFTER_SECONDS);
    this.inFlight.set(url, taken + 1);
  }

  release(url: string): void {
    const taken = (this.inFlight.get(url) ?? 1) - 1;
    if (taken === 0) this.inFlight.delete(url);
    else this.inFlight.set(url, taken);
  }
}

interface RememberedRefusal {
  readonly kind: "inactive" | "unavailable";
  readonly description: string;
  readonly detail: string;
  /** Milliseconds since the epoch (the introspector's clock). */
  readonly until: number;
}

/** Over kept-alive connections; a redirect, which would carry the token and the credentials elsewhere, is not followed. */
function postIntrospectionRequest(request: FormPost): Promise<HttpAnswer> {
  return postBoundedForm(request, MAX_INTROSPECTION_BYTES);
}

/** application/x-www-form-urlencoded encoding of one value, which RFC 6749 §2.3.1 asks for in Basic credentials. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice("v=".length);
}

/**
 * The request asking `endpoint` about `token` (RFC 7662 §2.1), the client authenticated with
 * client_secret_basic or client_secret_post (RFC 6749 §2.3.1).
 */
function formatIntrospectionRequest(endpoint: IntrospectionEndpoint, token: string, timeoutMs: number): FormPost {
  const form = new URLSearchParams({ token, token_type_hint: "access_token" });
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
  if (endpoint.authMethod === "client_secret_basic") {
    headers["authorization"] = `Basic ${Buffer.from(`${formEncode(endpoint.clientId)}:${formEncode(endpoint.clientSecret)}`).toString("base64")}`;
  } else {
    form.set("client_id", endpoint.clientId);
    form.set("client_secret", endpoint.clientSecret);
  }
  return { url: endpoint.url, form: form.toString(), headers, timeoutMs };
}

/** ` (invalid_client)` for a known OAuth error code in an error answer; nothing else of its text. */
function describeErrorAnswer(text: string): string {
  try {
    const error = (parseJsonWithUniqueKeys(text) as { error?: unknown } | null)?.error;
    return typeof error === "string" && KNOWN_ERROR_CODES.has(error) ? ` (${error})` : "";
  } catch {
    return "";
  }
}

function unavailable(endpoint: IntrospectionEndpoint, problem: string): IntrospectionUnavailable {
  return new IntrospectionUnavailable(`introspection endpoint ${endpoint.url} ${problem}`, INTROSPECTION_RETRY_AFTER_SECONDS);
}

/**
 * The introspection answer as a JSON object with a boolean `active` (RFC 7662 §2.2), read as
 * strictly as tokens are (no repeated member names). Anything else: IntrospectionUnavailable.
 */
function readIntrospectionAnswer(reply: HttpAnswer, endpoint: IntrospectionEndpoint): JsonObject {
  if (reply.status !== 200) throw unavailable(endpoint, `answered HTTP ${reply.status}${describeErrorAnswer(reply.text)}`);
  let answer: unknown;
  try {
    answer = parseJsonWithUniqueKeys(reply.text);
  } catch (error) {
    // The parser's message would quote the answer, which may echo what was sent: the token.
    throw unavailable(endpoint, error instanceof DuplicateKeyError ? "answered JSON with a repeated member name" : "answered with something that is not JSON");
  }
  if (!isJsonObject(answer) || typeof answer.active !== "boolean") throw unavailable(endpoint, "answered without a boolean 'active' member (RFC 7662 §2.2)");
  return answer;
}

/**
 * The server vouches for the token: `active` true, `iss` (when given) its issuer, `token_type`
 * (when given) Bearer: the gate accepts no sender-constrained (DPoP) token. Throws InvalidToken.
 */
function checkActiveAnswer(answer: JsonObject, server: AuthorizationServer, endpoint: IntrospectionEndpoint): void {
  const { active, iss, token_type: tokenType } = answer;
  if (active !== true) throw new InvalidToken("the token is not active (expired, revoked or unknown)", `introspection at ${endpoint.url}: not active`);
  if (iss !== undefined && iss !== server.issuer) {
    throw new InvalidToken("the token was not issued by an accepted authorization server", `introspection at ${endpoint.url}: iss ${describeValue(iss)}, expected ${describeValue(server.issuer)}`);
  }
  if (tokenType !== undefined && (typeof tokenType !== "string" || tokenType.toLowerCase() !== "bearer")) {
    throw new InvalidToken("the token is not a bearer access token", `introspection at ${endpoint.url}: token_type ${describeValue(tokenType)}`);
  }
}

/** One refusal for the servers asked in turn: busy or unavailable if any could not answer (busy first), else invalid. */
function combineRefusals(refusals: readonly (InvalidToken | IntrospectionUnavailable)[]): InvalidToken | IntrospectionUnavailable {
  const detail = refusals.map((refusal) => refusal.detail).join("; ");
  if (refusals.some((refusal) => refusal instanceof IntrospectionBusy)) return new IntrospectionBusy(detail, BUSY_RETRY_AFTER_SECONDS);
  if (refusals.some((refusal) => refusal instanceof IntrospectionUnavailable)) return new IntrospectionUnavailable(detail, INTROSPECTION_RETRY_AFTER_SECONDS);
  return new InvalidToken((refusals[0] as InvalidToken).description, detail);
}

/**
 * Asks authorization servers whether tokens are active (RFC 7662), shared by every plugin
 * instance of the process. Per token (by its SHA-256, `tokenKey`) and verification settings: one
 * call at a time however many requests carry it; a "not active" answer remembered for
 * `introspection_negative_cache_ttl`, a failure for INTROSPECTION_RETRY_AFTER_SECONDS, so a
 * flood of one token causes at most one call per period. Positive verdicts are the token
 * cache's (the caller remembers them until min(token_cache_ttl, exp)). Calls per endpoint are
 * bounded in two budgets (MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT, MAX_REVOCATION_CHECKS_PER_ENDPOINT);
 * a pending decision always holds a call slot, so they bound the decisions in flight too.
 */
export class TokenIntrospector {
  private readonly refusals = new LRUCache<string, RememberedRefusal>({ max: MAX_REMEMBERED_REFUSALS });
  private readonly inflight = new Map<string, Promise<VerifiedToken>>();
  private readonly opaqueBudget = new CallBudget("opaque-token introspections", MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT);
  private readonly revocationBudget = new CallBudget("revocation checks", MAX_REVOCATION_CHECKS_PER_ENDPOINT);

  constructor(
    private readonly post: PostIntrospection = postIntrospectionRequest,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The verdict on an opaque token: the first introspecting server, in configured order, whose
   * answer is active with a fitting iss, aud and exp gives the identity and grants (the claim
   * checks of JWTs, readVerifiedClaims). All servers share one http_timeout; a server whose
   * opaque budget is spent is passed over. Throws InvalidToken, or IntrospectionUnavailable when a
   * server that might have vouched could not be asked.
   */
  introspectOpaqueToken(token: string, tokenKey: string, settings: IntrospectionSettings, nowSeconds: number): Promise<VerifiedToken> {
    return this.decideOnce(tokenKey, settings, async () => {
      const deadline = this.now() + settings.verification.httpTimeoutMs;
      const refusals: (InvalidToken | IntrospectionUnavailable)[] = [];
      for (const server of settings.verification.opaqueTokenServers) {
        try {
          return readVerifiedClaims(await this.askServer(server, server.introspection, token, deadline, this.opaqueBudget), server, settings.verification, nowSeconds);
        } catch (error) {
          if (!(error instanceof InvalidToken || error instanceof IntrospectionUnavailable)) throw error;
          refusals.push(error);
        }
      }
      throw combineRefusals(refusals);
    });
  }

  /**
   * The revocation check of a locally verified JWT (`introspection: jwt` or `always`): `server` must
   * answer it active. The identity stays the JWT's. Throws InvalidToken or IntrospectionUnavailable.
   */
  confirmActive(token: string, tokenKey: string, verified: VerifiedToken, server: AuthorizationServer, endpoint: IntrospectionEndpoint, settings: IntrospectionSettings): Promise<VerifiedToken> {
    return this.decideOnce(tokenKey, settings, async () => {
      await this.askServer(server, endpoint, token, this.now() + settings.verification.httpTimeoutMs, this.revocationBudget);
      return verified;
    });
  }

  /** The answer of `server` at its `endpoint`, asked within a slot of `budget`, checked to vouch for the token (checkActiveAnswer). */
  private async askServer(server: AuthorizationServer, endpoint: IntrospectionEndpoint, token: string, deadline: number, budget: CallBudget): Promise<JsonObject> {
    const timeoutMs = deadline - this.now();
    if (timeoutMs <= 0) throw unavailable(endpoint, "not asked: http_timeout was spent on the servers before it");
    budget.take(endpoint.url);
    let reply: HttpAnswer;
    try {
      reply = await this.post(formatIntrospectionRequest(endpoint, token, timeoutMs));
    } catch (error) {
      throw unavailable(endpoint, describeFetchError(error, timeoutMs));
    } finally {
      budget.release(endpoint.url);
    }
    const answer = readIntrospectionAnswer(reply, endpoint);
    checkActiveAnswer(answer, server, endpoint);
    return answer;
  }

  /** Runs `decide` once for concurrent requests of one token, answering from remembered refusals first. */
  private decideOnce(tokenKey: string, settings: IntrospectionSettings, decide: () => Promise<VerifiedToken>): Promise<VerifiedToken> {
    const key = `${settings.verificationFingerprint}/${tokenKey}`;
    const remembered = this.recall(key);
    if (remembered !== undefined) return Promise.reject(remembered);
    const flight = this.inflight.get(key);
    if (flight !== undefined) return flight;
    const started = decide()
      .catch((error: unknown) => {
        this.remember(key, error, settings);
        throw error;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, started);
    return started;
  }

  private remember(key: string, error: unknown, settings: IntrospectionSettings): void {
    const now = this.now();
    // Being busy is not the token's fault.
    if (error instanceof IntrospectionBusy) return;
    if (error instanceof IntrospectionUnavailable) {
      this.refusals.set(key, { kind: "unavailable", description: error.description, detail: error.detail, until: now + 1000 * INTROSPECTION_RETRY_AFTER_SECONDS });
    } else if (error instanceof InvalidToken && settings.introspectionNegativeCacheTtlSeconds > 0) {
      this.refusals.set(key, { kind: "inactive", description: error.description, detail: error.detail, until: now + 1000 * settings.introspectionNegativeCacheTtlSeconds });
    }
  }

  /** The remembered refusal for `key`, made anew (Retry-After counts down), if still current. */
  private recall(key: string): InvalidToken | IntrospectionUnavailable | undefined {
    const remembered = this.refusals.get(key);
    if (remembered === undefined) return undefined;
    const remainingMs = remembered.until - this.now();
    if (remainingMs <= 0) {
      this.refusals.delete(key);
      return undefined;
    }
    const detail = `${remembered.detail} (remembered)`;
    return remembered.kind === "unavailable" ? new IntrospectionUnavailable(detail, Math.ceil(remainingMs / 1000)) : new InvalidToken(remembered.description, detail);
  }
}

/** The gate's shared state that verifyOrIntrospect works with. */
export interface TokenVerifiers {
  readonly registry: JwksRegistry;
  readonly introspector: TokenIntrospector;
}

/**
 * Verifies a bearer token as the configuration says. A token of three dot-separated parts takes the
 * JWT path (hasJwtShape): verified locally and, when its server introspects `jwt` or `always`,
 * then confirmed active there (a revocation check). Any other token is opaque: introspected at the
 * servers that introspect opaque tokens, never sent anywhere else; refused as not a JWT when none
 * does. Throws InvalidToken, KeysUnavailable or IntrospectionUnavailable.
 */
export async function verifyOrIntrospect(token: string, tokenKey: string, settings: IntrospectionSettings, verifiers: TokenVerifiers, nowSeconds: number): Promise<VerifiedToken> {
  const { verification } = settings;
  if (hasJwtShape(token) || verification.opaqueTokenServers.length === 0) {
    const verified = await verifyAccessToken(token, verification, verifiers.registry, nowSeconds);
    const server = verification.issuers.get(verified.issuer);
    if (server === undefined || !checksJwtRevocation(server)) return verified;
    return verifiers.introspector.confirmActive(token, tokenKey, verified, server, server.introspection, settings);
  }
  checkTokenLength(token);
  return verifiers.introspector.introspectOpaqueToken(token, tokenKey, settings, nowSeconds);
}
