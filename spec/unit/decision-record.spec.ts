import { expect } from "chai";
import type { VerifiedToken } from "../../plugins/mcp-oauth2/core/access-token-verifier";
import { recordDecision } from "../../plugins/mcp-oauth2/core/decision-record";
import { compileGatePolicy } from "../../plugins/mcp-oauth2/core/gate-config";
import { InvalidToken } from "../../plugins/mcp-oauth2/core/refusals";

const policyWith = (config: Record<string, unknown> = {}) =>
  compileGatePolicy({ authorization_servers: [{ url: "https://as.example.com", audience: "https://mcp.example.com/mcp" }], log_decisions: true, ...config });

const verified: VerifiedToken = { issuer: "https://as.example.com", subject: "alice", clientId: "vscode", scopes: ["mcp:tools"], expiresAt: 0, identityValues: [], consumerClaimValues: [] };

describe("decision-record", () => {
  it("lists at most 20 calls and counts the others", () => {
    const calls = Array.from({ length: 25 }, (_, index) => ({ method: "tools/call", item: `tool_${index}` }));
    const record = recordDecision(policyWith(), { verified, calls }, "allowed");
    expect(record.calls).to.have.length(20);
    expect(record.calls?.at(-1)).to.deep.equal({ method: "tools/call", item: "tool_19" });
    expect(record.calls_not_listed).to.equal(5);
    const twenty = recordDecision(policyWith(), { verified, calls: calls.slice(0, 20) }, "allowed");
    expect(twenty.calls).to.have.length(20);
    expect(twenty).not.to.have.property("calls_not_listed");
  });

  it("cuts client-chosen method and item names to 100 characters", () => {
    const record = recordDecision(policyWith(), { calls: [{ method: `x/${"m".repeat(200)}`, item: "i".repeat(200) }] }, "allowed");
    expect(record.calls?.[0]?.method).to.have.length(100);
    expect(record.calls?.[0]?.item).to.equal(`${"i".repeat(97)}...`);
  });

  it("cuts a subject and a client id to 256 characters: the issuer's claims, of any length", () => {
    const long = { ...verified, subject: "s".repeat(50_000), clientId: "c".repeat(300) };
    const record = recordDecision(policyWith(), { verified: long }, "allowed");
    expect(record.subject).to.equal(`${"s".repeat(253)}...`);
    expect(record.client_id).to.equal(`${"c".repeat(253)}...`);
  });

  it("names no scope with the ACL off, and leaves an empty call list out", () => {
    expect(recordDecision(policyWith(), { verified, calls: [{ method: "tools/list" }] }, "allowed").calls).to.deep.equal([{ method: "tools/list" }]);
    expect(recordDecision(policyWith(), { verified, calls: [] }, "allowed")).not.to.have.property("calls");
  });

  it("marks the anonymous consumer, names a credential-only request's client alone, and carries the refusal's reason", () => {
    const guest = { id: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", username: "guest", custom_id: "g-1", tags: ["x"] };
    const refusal = new InvalidToken("no consumer matches the token's azp claim");
    expect(recordDecision(policyWith(), { verified, identity: { kind: "anonymous", consumer: guest } }, "refused", refusal)).to.deep.equal({
      decision: "refused",
      status: 401,
      reason: "invalid_token",
      description: "no consumer matches the token's azp claim",
      issuer: "https://as.example.com",
      subject: "alice",
      client_id: "vscode",
      consumer: { id: guest.id, username: "guest", custom_id: "g-1", anonymous: true },
    });
    expect(recordDecision(policyWith(), { verified, identity: { kind: "credential", credential: { id: "vscode" } } }, "allowed")).not.to.have.property("consumer");
  });
});
