import { LRUCache, type Perf } from "lru-cache";
import { checkHeaderSafeClaim, describeTokenHolder, type VerifiedToken } from "./access-token-verifier";
import type { ConsumerMapping } from "./gate-config";
import { GateFailure, InvalidToken, shortenText } from "./refusals";

/**
 * A Kong consumer entity as `kong.client.load_consumer` hands it over. Only the fields the gate
 * reads are typed; the entity is handed back to Kong whole, so other plugins see all of it.
 */
export interface KongConsumer {
  readonly id: string;
  readonly username?: unknown;
  readonly custom_id?: unknown;
  readonly [field: string]: unknown;
}

/**
 * The credential other plugins get from `kong.client.get_credential()`: `id` names the token's
 * client (rate-limiting by credential counts per id), `consumer_id` the consumer it maps to (Kong's
 * acl plugin and log serializer read it).
 */
export interface TokenCredential {
  readonly id: string;
  readonly consumer_id?: string;
}

/** Who the request is, for Kong: a consumer with the token's credential, the anonymous consumer, or the credential alone. */
export type ConsumerIdentity =
  | { readonly kind: "consumer"; readonly consumer: KongConsumer; readonly credential: TokenCredential; readonly claim: string }
  | { readonly kind: "anonymous"; readonly consumer: KongConsumer }
  | { readonly kind: "credential"; readonly credential: TokenCredential };

/**
 * `kong.client.load_consumer(value, byUsername)`: the consumer whose id is `value` (looked up only
 * when it is a UUID), else, with `byUsername`, whose username is `value`; nil when none. Kong
 * raises (a 500) when `value` is not a UUID and `byUsername` is false: never ask that.
 */
export type ConsumerLoader = (value: string, byUsername: boolean) => Promise<unknown>;

/**
 * How long a lookup's answer is kept, found or not. Kong's own consumer cache is invalidated by
 * cluster events every `db_update_frequency` (5 s by default); an external plugin sees no events,
 * so answers expire after as long. Keeping "not found" as long bounds the datastore reads a flood
 * of tokens without a consumer can cause, and a new consumer is seen within the same delay.
 */
export const CONSUMER_CACHE_TTL_MS = 5000;
const MAX_CACHED_LOOKUPS = 10_000;

/** Kong's is_valid_uuid (kong/tools/uuid.lua): 8-4-4-4-12 hex digits, any case, any version. */
const KONG_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The Kong headers of an authenticated request; `[]` removes a header (kong.service.request.set_headers). */
export type ConsumerHeaders = Readonly<Record<string, string | readonly never[]>>;

function isKongConsumer(value: unknown): value is KongConsumer {
  return typeof value === "object" && value !== null && typeof (value as { id?: unknown }).id === "string";
}

/**
 * Answers of `load_consumer`, shared by every configuration in the plugin server (consumers are
 * Kong-wide), each kept CONSUMER_CACHE_TTL_MS, at most MAX_CACHED_LOOKUPS (least recently used go).
 */
export class ConsumerCache {
  private readonly answers: LRUCache<string, { readonly consumer: KongConsumer | undefined }>;

  /** @param now - milliseconds, for tests that move a clock (above 0); lru-cache's own clock by default. */
  constructor(now?: () => number) {
    // ttlResolution 0: every read asks the clock (lru-cache otherwise reuses a reading for 1 ms of real time).
    this.answers = new LRUCache({ max: MAX_CACHED_LOOKUPS, ttl: CONSUMER_CACHE_TTL_MS, ttlResolution: 0, perf: now === undefined ? undefined : ({ now } satisfies Perf) });
  }

  /** The consumer `load` finds for `value`, from the cache while the answer is fresh. */
  async find(load: ConsumerLoader, value: string, byUsername: boolean): Promise<KongConsumer | undefined> {
    const key = `${byUsername ? "id,username" : "id"}:${value}`;
    const cached = this.answers.get(key);
    if (cached !== undefined) return cached.consumer;
    // The bridge hands over only load_consumer's first return value: a datastore error reads as "none".
    const loaded = await load(value, byUsername);
    const consumer = isKongConsumer(loaded) ? loaded : undefined;
    this.answers.set(key, { consumer });
    return consumer;
  }
}

/**
 * Whether `consumer` matches `value` by a field the operator allowed. load_consumer tries the id
 * before the username, so a username-only lookup can return the consumer whose id is `value`.
 */
function matchesAllowedField(mapping: ConsumerMapping, consumer: KongConsumer, value: string): boolean {
  return (mapping.byId && consumer.id.toLowerCase() === value.toLowerCase()) || (mapping.byUsername && consumer.username === value);
}

/** The one load_consumer call that can find `value` by the allowed fields, or undefined when none can. */
function lookupFor(mapping: ConsumerMapping, value: string): { byUsername: boolean } | undefined {
  if (mapping.byUsername) return { byUsername: true };
  return KONG_UUID.test(value) ? { byUsername: false } : undefined;
}

function describeFields(mapping: ConsumerMapping): string {
  return [mapping.byUsername ? "username" : undefined, mapping.byId ? "id" : undefined].filter((field) => field !== undefined).join(" or ");
}

function describeCredential(verified: VerifiedToken, consumer: KongConsumer | undefined): TokenCredential {
  // RFC 9068 §2.2 makes client_id and sub required; a token with neither is counted under its issuer.
  const [value, claimName] =
    verified.clientId !== undefined ? [verified.clientId, "azp or client_id"] : verified.subject !== undefined ? [verified.subject, "sub"] : [verified.issuer, "iss"];
  const id = checkHeaderSafeClaim(value, claimName);
  return consumer === undefined ? { id } : { id, consumer_id: consumer.id };
}

/**
 * Finds the Kong consumer of a verified token, as Kong's authentication plugins do: each claim of
 * `consumer_claim` in order, looked up by the `consumer_by` fields; when none matches, the
 * anonymous consumer, or (consumer_optional) the token's credential alone. Throws InvalidToken
 * (401) naming the claims that found no consumer, or GateFailure (500) when the configured
 * anonymous consumer does not exist (Kong's jwt plugin also answers 500 then).
 */
export async function identifyConsumer(mapping: ConsumerMapping, verified: VerifiedToken, load: ConsumerLoader, cache: ConsumerCache): Promise<ConsumerIdentity> {
  const tried: string[] = [];
  for (const [index, claim] of mapping.claims.entries()) {
    const value = verified.consumerClaimValues[index];
    const lookup = value === undefined ? undefined : lookupFor(mapping, value);
    if (value === undefined || lookup === undefined) {
      tried.push(`${claim.name}: ${value === undefined ? "absent" : "not a UUID"}`);
      continue;
    }
    const consumer = await cache.find(load, value, lookup.byUsername);
    if (consumer !== undefined && matchesAllowedField(mapping, consumer, value)) {
      return { kind: "consumer", consumer, credential: describeCredential(verified, consumer), claim: claim.name };
    }
    tried.push(`${claim.name} ${JSON.stringify(shortenText(value, 120))}: no consumer with that ${describeFields(mapping)}`);
  }
  if (mapping.anonymous !== undefined) {
    const anonymous = await cache.find(load, mapping.anonymous, true);
    if (anonymous === undefined) {
      throw new GateFailure("the gateway's mcp-oauth2 configuration is invalid", `the anonymous consumer ${JSON.stringify(mapping.anonymous)} does not exist (by id or username)`);
    }
    return { kind: "anonymous", consumer: anonymous };
  }
  if (mapping.optional) return { kind: "credential", credential: describeCredential(verified, undefined) };
  const names = mapping.claims.map((claim) => claim.name);
  throw new InvalidToken(`no consumer matches the token's ${names.length === 1 ? `${names[0]} claim` : `claims ${names.join(", ")}`}`, `no Kong consumer for the token of ${describeTokenHolder(verified)}: ${tried.join("; ")}`);
}

function headerValue(value: unknown): string | readonly never[] {
  return typeof value === "string" && value !== "" ? value : [];
}

/** Kong's consumer headers all removed: for a request let through without an identity (a preflight). */
export const CLEARED_CONSUMER_HEADERS: ConsumerHeaders = {
  "X-Consumer-ID": [],
  "X-Consumer-Custom-ID": [],
  "X-Consumer-Username": [],
  "X-Credential-Identifier": [],
  "X-Anonymous-Consumer": [],
};

/**
 * Kong's upstream headers for an authenticated request, as its jwt and key-auth plugins set them:
 * each set when it applies and removed otherwise, so that a client cannot send its own.
 */
export function describeConsumerHeaders(identity: ConsumerIdentity): ConsumerHeaders {
  const consumer = identity.kind === "credential" ? undefined : identity.consumer;
  const credential = identity.kind === "anonymous" ? undefined : identity.credential;
  return {
    "X-Consumer-ID": headerValue(consumer?.id),
    "X-Consumer-Custom-ID": headerValue(consumer?.custom_id),
    "X-Consumer-Username": headerValue(consumer?.username),
    "X-Credential-Identifier": headerValue(credential?.id),
    "X-Anonymous-Consumer": identity.kind === "anonymous" ? "true" : [],
  };
}
