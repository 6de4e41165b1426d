import type { Adapter, AdapterFactory, AdapterPayload } from "oidc-provider";

interface StoredEntry {
  readonly payload: AdapterPayload;
  /** Milliseconds since the epoch; Infinity for entries without a lifetime (registered clients). */
  readonly expiresAt: number;
}

/**
 * Creates an oidc-provider adapter factory over one in-process store. Unlike oidc-provider's own
 * memory adapter, the store outlives a Provider instance: key rotation builds a new Provider over
 * the same store, so sessions, interactions, grants and registered clients survive it.
 */
export function createMemoryAdapterFactory(): AdapterFactory {
  // A demo serves a handful of clients and sessions: lookups by uid or grant scan the store instead
  // of keeping secondary indexes in step with it.
  const entries = new Map<string, StoredEntry>();

  const readLive = (key: string): AdapterPayload | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > Date.now()) return entry.payload;
    entries.delete(key);
    return undefined;
  };

  const removeExpired = (): void => {
    const now = Date.now();
    for (const [key, entry] of entries) {
      if (entry.expiresAt <= now) entries.delete(key);
    }
  };

  class MemoryAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      // The demo is long-running but small: sweeping on write keeps the store bounded without a timer.
      removeExpired();
      const expiresAt = expiresIn === undefined ? Infinity : Date.now() + expiresIn * 1000;
      entries.set(this.keyFor(id), { payload, expiresAt });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return readLive(this.keyFor(id));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const prefix = this.keyFor("");
      for (const key of entries.keys()) {
        const payload = key.startsWith(prefix) ? readLive(key) : undefined;
        if (payload?.uid === uid) return payload;
      }
      return undefined;
    }

    async findByUserCode(): Promise<undefined> {
      // User codes belong to the device flow, which the demo authorization server does not enable.
      return undefined;
    }

    async consume(id: string): Promise<void> {
      const payload = readLive(this.keyFor(id));
      if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      entries.delete(this.keyFor(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, entry] of entries) {
        if (entry.payload.grantId === grantId) entries.delete(key);
      }
    }

    private keyFor(id: string): string {
      return `${this.model}:${id}`;
    }
  }

  return (model) => new MemoryAdapter(model);
}
