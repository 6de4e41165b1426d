import { expect } from "chai";
import type { VerifiedToken } from "../../plugins/mcp-oauth2/core/access-token-verifier";
import {
  CONSUMER_CACHE_TTL_MS,
  ConsumerCache,
  describeConsumerHeaders,
  identifyConsumer,
  type ConsumerLoader,
  type KongConsumer,
} from "../../plugins/mcp-oauth2/core/consumer-identity";
import { compileGatePolicy, type ConsumerMapping } from "../../plugins/mcp-oauth2/core/gate-config";
import { GateFailure, InvalidToken } from "../../plugins/mcp-oauth2/core/refusals";
import { expectRejection } from "../support/error-assertions";

const MACHINE: KongConsumer = { id: "5f6c2b2e-2f0b-4c4e-9a51-1d6a1e9f3a10", username: "mcp-machine", created_at: 1700000000, tags: ["mcp"] };
const ALICE: KongConsumer = { id: "0b7e9c1a-3d2f-4e5a-8b6c-7d8e9f0a1b2c", username: "alice", custom_id: "employee-17" };
const GUEST: KongConsumer = { id: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", username: "guest" };

/** The consumer table Kong's load_consumer reads: by id when the value is a UUID, then by username. */
function consumerTable(consumers: readonly KongConsumer[]): ConsumerLoader & { calls: Array<[string, boolean]> } {
  const calls: Array<[string, boolean]> = [];
  const load = (value: string, byUsername: boolean) => {
    calls.push([value, byUsername]);
    const byId = consumers.find((consumer) => consumer.id === value);
    return Promise.resolve(byId ?? (byUsername ? consumers.find((consumer) => consumer.username === value) : undefined));
  };
  return Object.assign(load, { calls });
}

function mappingOf(config: Record<string, unknown>): ConsumerMapping {
  const policy = compileGatePolicy({ authorization_servers: [{ url: "https://as.example.com", audience: "https://mcp.example.com/mcp" }], ...config });
  return policy.consumerMapping!;
}

function tokenWith(claims: { subject?: string; clientId?: string }, consumerClaimValues: readonly (string | undefined)[]): VerifiedToken {
  return { issuer: "https://as.example.com", scopes: [], expiresAt: 0, identityValues: [], consumerClaimValues, ...claims };
}

describe("consumer-identity", () => {
  const table = () => consumerTable([MACHINE, ALICE, GUEST]);
  const azpThenSub = mappingOf({ consumer_claim: ["azp", "sub"] });

  it("takes the first claim that names a consumer, with a credential naming the token's client", async () => {
    const load = table();
    const identity = await identifyConsumer(azpThenSub, tokenWith({ subject: "alice", clientId: "vscode" }, ["vscode", "alice"]), load, new ConsumerCache());
    expect(identity).to.deep.equal({ kind: "consumer", consumer: ALICE, credential: { id: "vscode", consumer_id: ALICE.id }, claim: "sub" });
    // One load_consumer per claim tried, each by id then username (one call does both).
    expect(load.calls).to.deep.equal([["vscode", true], ["alice", true]]);
  });

  it("skips absent claims and hands the consumer entity over whole", async () => {
    const identity = await identifyConsumer(azpThenSub, tokenWith({ clientId: "mcp-machine" }, [undefined, "mcp-machine"]), table(), new ConsumerCache());
    expect(identity).to.deep.include({ kind: "consumer", consumer: MACHINE, claim: "sub" });
  });

  it("looks a value up by id alone only when it is a UUID: Kong raises for anything else", async () => {
    const byId = mappingOf({ consumer_claim: ["azp", "sub"], consumer_by: ["id"] });
    const load = table();
    const identity = await identifyConsumer(byId, tokenWith({ subject: ALICE.id }, ["mcp-machine", ALICE.id]), load, new ConsumerCache());
    expect(load.calls).to.deep.equal([[ALICE.id, false]]);
    expect(identity).to.deep.include({ kind: "consumer", consumer: ALICE, claim: "sub" });
  });

  it("does not take a consumer found by the field the operator did not allow", async () => {
    // load_consumer(value, true) finds MACHINE by its id: a username-only mapping must not take it.
    const byUsername = mappingOf({ consumer_claim: ["sub"], consumer_by: ["username"] });
    const refusal = await expectRejection(identifyConsumer(byUsername, tokenWith({ subject: MACHINE.id }, [MACHINE.id]), table(), new ConsumerCache()), InvalidToken);
    expect(refusal.detail).to.contain(`sub "${MACHINE.id}": no consumer with that username`);
  });

  it("tells the operator which fields were searched, and which values were no UUID to look up by id", async () => {
    const unknownId = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a";
    const byBoth = await expectRejection(identifyConsumer(mappingOf({ consumer_claim: ["sub"], consumer_by: ["username", "id"] }), tokenWith({ subject: "mallory" }, ["mallory"]), table(), new ConsumerCache()), InvalidToken);
    expect(byBoth.detail).to.equal('no Kong consumer for the token of mallory: sub "mallory": no consumer with that username or id');
    const byId = mappingOf({ consumer_claim: ["azp", "sub"], consumer_by: ["id"] });
    const refusal = await expectRejection(identifyConsumer(byId, tokenWith({ subject: unknownId }, ["vscode", unknownId]), table(), new ConsumerCache()), InvalidToken);
    expect(refusal.detail).to.equal(`no Kong consumer for the token of ${unknownId}: azp: not a UUID; sub "${unknownId}": no consumer with that id`);
  });

  it("takes no consumer the loader hands back for another id, and matches an id in any case as Kong does", async () => {
    const byId = mappingOf({ consumer_claim: ["sub"], consumer_by: ["id"] });
    const alwaysMachine: ConsumerLoader = () => Promise.resolve(MACHINE);
    const refusal = await expectRejection(identifyConsumer(byId, tokenWith({ subject: ALICE.id }, [ALICE.id]), alwaysMachine, new ConsumerCache()), InvalidToken);
    expect(refusal.detail).to.equal(`no Kong consumer for the token of ${ALICE.id}: sub "${ALICE.id}": no consumer with that id`);
    const upper = ALICE.id.toUpperCase();
    const identity = await identifyConsumer(byId, tokenWith({ subject: upper }, [upper]), () => Promise.resolve(ALICE), new ConsumerCache());
    expect(identity).to.deep.include({ kind: "consumer", consumer: ALICE, claim: "sub" });
  });

  it("refuses with 401 invalid_token naming the claims when none matches, the details for the operator", async () => {
    const refusal = await expectRejection(identifyConsumer(azpThenSub, tokenWith({ subject: "mallory" }, [undefined, "mallory"]), table(), new ConsumerCache()), InvalidToken);
    expect([refusal.status, refusal.errorCode, refusal.description]).to.deep.equal([401, "invalid_token", "no consumer matches the token's claims azp, sub"]);
    expect(refusal.detail).to.equal('no Kong consumer for the token of mallory: azp: absent; sub "mallory": no consumer with that username');
    const single = await expectRejection(identifyConsumer(mappingOf({ consumer_claim: ["azp"] }), tokenWith({}, ["x"]), table(), new ConsumerCache()), InvalidToken);
    expect(single.description).to.equal("no consumer matches the token's azp claim");
  });

  it("authenticates as the anonymous consumer, by id or username, when none matches", async () => {
    for (const anonymous of ["guest", GUEST.id]) {
      const identity = await identifyConsumer(mappingOf({ consumer_claim: ["azp"], anonymous }), tokenWith({}, ["unknown"]), table(), new ConsumerCache());
      expect(identity).to.deep.equal({ kind: "anonymous", consumer: GUEST });
    }
  });

  it("answers 500 when the anonymous consumer does not exist, as Kong's jwt plugin does", async () => {
    const failure = await expectRejection(identifyConsumer(mappingOf({ consumer_claim: ["azp"], anonymous: "nobody" }), tokenWith({}, ["unknown"]), table(), new ConsumerCache()), GateFailure);
    expect([failure.status, failure.description, failure.detail]).to.deep.equal([500, "the gateway's mcp-oauth2 configuration is invalid", 'the anonymous consumer "nobody" does not exist (by id or username)']);
  });

  it("with consumer_optional, goes on with the credential alone: the client, else the subject, else the issuer", async () => {
    const optional = mappingOf({ consumer_claim: ["azp"], consumer_optional: true });
    const identify = (claims: { subject?: string; clientId?: string }) => identifyConsumer(optional, tokenWith(claims, [undefined]), table(), new ConsumerCache());
    expect(await identify({ subject: "alice", clientId: "vscode" })).to.deep.equal({ kind: "credential", credential: { id: "vscode" } });
    expect(await identify({ subject: "alice" })).to.deep.equal({ kind: "credential", credential: { id: "alice" } });
    expect(await identify({})).to.deep.equal({ kind: "credential", credential: { id: "https://as.example.com" } });
  });

  it("refuses a credential id that could not be sent as a header", async () => {
    const optional = mappingOf({ consumer_claim: ["azp"], consumer_optional: true });
    const refusal = await expectRejection(identifyConsumer(optional, tokenWith({ clientId: "vs\r\ncode" }, [undefined]), table(), new ConsumerCache()), InvalidToken);
    expect(refusal.detail).to.equal("claim azp or client_id holds control characters");
    const bySubject = await expectRejection(identifyConsumer(optional, tokenWith({ subject: "al\nice" }, [undefined]), table(), new ConsumerCache()), InvalidToken);
    expect(bySubject.detail).to.equal("claim sub holds control characters");
    const byIssuer = await expectRejection(identifyConsumer(optional, { ...tokenWith({}, [undefined]), issuer: "https://as.example.com\u0007" }, table(), new ConsumerCache()), InvalidToken);
    expect(byIssuer.detail).to.equal("claim iss holds control characters");
  });

  describe("ConsumerCache", () => {
    it(`keeps found and missing consumers ${CONSUMER_CACHE_TTL_MS} ms, then asks Kong again`, async () => {
      let clock = 1_000_000;
      const cache = new ConsumerCache(() => clock);
      const load = table();
      expect(await cache.find(load, "alice", true)).to.equal(ALICE);
      expect(await cache.find(load, "nobody", true)).to.equal(undefined);
      clock += CONSUMER_CACHE_TTL_MS - 1;
      expect(await cache.find(load, "alice", true)).to.equal(ALICE);
      expect(await cache.find(load, "nobody", true)).to.equal(undefined);
      expect(load.calls).to.have.length(2);
      clock += 2;
      await cache.find(load, "alice", true);
      await cache.find(load, "nobody", true);
      expect(load.calls).to.have.length(4);
    });

    it("keeps lookups by id apart from lookups by id and username", async () => {
      const cache = new ConsumerCache();
      const load = table();
      await cache.find(load, ALICE.id, false);
      await cache.find(load, ALICE.id, true);
      expect(load.calls).to.deep.equal([[ALICE.id, false], [ALICE.id, true]]);
    });

    it("reads anything but an entity with a string id as no consumer (the bridge drops load_consumer's error)", async () => {
      for (const answer of [undefined, null, "alice", {}, { id: 7 }]) {
        expect(await new ConsumerCache().find(() => Promise.resolve(answer), "alice", true), JSON.stringify(answer)).to.equal(undefined);
      }
    });
  });

  describe("describeConsumerHeaders (as Kong's jwt and key-auth plugins set them)", () => {
    it("sets the consumer's fields and the credential, and removes what does not apply", () => {
      expect(describeConsumerHeaders({ kind: "consumer", consumer: ALICE, credential: { id: "vscode", consumer_id: ALICE.id }, claim: "sub" })).to.deep.equal({
        "X-Consumer-ID": ALICE.id,
        "X-Consumer-Custom-ID": "employee-17",
        "X-Consumer-Username": "alice",
        "X-Credential-Identifier": "vscode",
        "X-Anonymous-Consumer": [],
      });
    });

    it("marks the anonymous consumer, which has no credential", () => {
      expect(describeConsumerHeaders({ kind: "anonymous", consumer: GUEST })).to.deep.equal({
        "X-Consumer-ID": GUEST.id,
        "X-Consumer-Custom-ID": [],
        "X-Consumer-Username": "guest",
        "X-Credential-Identifier": [],
        "X-Anonymous-Consumer": "true",
      });
    });

    it("removes a consumer field that is empty or not a string rather than send it", () => {
      const sparse: KongConsumer = { id: GUEST.id, username: "", custom_id: 17 };
      expect(describeConsumerHeaders({ kind: "consumer", consumer: sparse, credential: { id: "vscode", consumer_id: GUEST.id }, claim: "sub" })).to.deep.include({
        "X-Consumer-Custom-ID": [],
        "X-Consumer-Username": [],
      });
    });

    it("removes every consumer header for a credential alone", () => {
      expect(describeConsumerHeaders({ kind: "credential", credential: { id: "vscode" } })).to.deep.equal({
        "X-Consumer-ID": [],
        "X-Consumer-Custom-ID": [],
        "X-Consumer-Username": [],
        "X-Credential-Identifier": "vscode",
        "X-Anonymous-Consumer": [],
      });
    });
  });
});
