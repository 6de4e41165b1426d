import { expect } from "chai";
import { decideAccess, type GateServices, type RequestSource } from "../../plugins/mcp-oauth2/core/access-decision";
import { ConsumerCache, type KongConsumer } from "../../plugins/mcp-oauth2/core/consumer-identity";
import { compileGatePolicy } from "../../plugins/mcp-oauth2/core/gate-config";
import { JwksRegistry } from "../../plugins/mcp-oauth2/core/jwks-registry";
import { InvalidRequest } from "../../plugins/mcp-oauth2/core/refusals";
import { TokenCache } from "../../plugins/mcp-oauth2/core/token-cache";
import { TokenIntrospector } from "../../plugins/mcp-oauth2/core/token-introspection";
import { JwksServer } from "../support/jwks-server";
import { createSigningKey, signAccessToken, type TestSigningKey } from "../support/token-factory";

const RESOURCE = "https://mcp.example.com/mcp";

/** A request source from plain values that records which facts the decision asked for. */
function plainRequest(facts: { path?: string; method?: string; headers?: Record<string, string[]>; body?: string; consumers?: KongConsumer[] }): RequestSource & { asked: string[] } {
  const asked: string[] = [];
  const note = <T>(fact: string, value: T) => {
    asked.push(fact);
    return Promise.resolve(value);
  };
  return {
    asked,
    path: () => note("path", facts.path ?? "/mcp"),
    method: () => note("method", facts.method ?? "POST"),
    headers: () => note("headers", new Map(Object.entries(facts.headers ?? {}))),
    body: () => note("body", Buffer.from(facts.body ?? "")),
    forwardedOrigin: () => note("forwardedOrigin", "http://gateway.test"),
    loadConsumer: (value) => note(`loadConsumer ${value}`, facts.consumers?.find((consumer) => consumer.username === value)),
  };
}

describe("access-decision", () => {
  let jwks: JwksServer;
  let key: TestSigningKey;
  let clock: number;
  let services: GateServices;

  before(async () => {
    key = await createSigningKey("ES256", "decision-key");
    jwks = await JwksServer.start([key.publicJwk]);
  });

  after(() => jwks.close());

  beforeEach(() => {
    clock = Date.now();
    jwks.requestCount = 0;
    services = { registry: new JwksRegistry(), introspector: new TokenIntrospector(), tokenCache: new TokenCache(), consumerCache: new ConsumerCache(), now: () => clock };
  });

  const policyWith = (config: Record<string, unknown> = {}) =>
    compileGatePolicy({ authorization_servers: [{ url: jwks.url, audience: RESOURCE }], resource: RESOURCE, ...config });

  it("verifies a token once and answers later requests from the cache until exp", async () => {
    const token = await signAccessToken(key, { issuer: jwks.url, audience: RESOURCE, expiresIn: 60 });
    const policy = policyWith({ clock_skew: 0 });
    const headers = { authorization: [`Bearer ${token}`] };
    expect((await decideAccess(policy, plainRequest({ headers }), services)).kind).to.equal("proceed");
    expect((await decideAccess(policy, plainRequest({ headers }), services)).kind).to.equal("proceed");
    expect(jwks.requestCount).to.equal(1);
    // A verdict from the cache needs no key set: with none to be had, the token still passes.
    const withoutKeys = { ...services, registry: new JwksRegistry(() => Promise.reject(new Error("unreachable"))) };
    expect((await decideAccess(policy, plainRequest({ headers }), withoutKeys)).kind).to.equal("proceed");
    clock += 61_000;
    const expired = await decideAccess(policy, plainRequest({ headers }), services);
    expect(expired.kind === "respond" && expired.response.headers["WWW-Authenticate"]).to.contain('error_description="the token has expired"');
  });

  describe("the ACL's refusals, with the operator's details", () => {
    const mapping = { enable_acl: true, scope_method_mapping: [{ scope: "mcp:tools", methods: ["tools/*"] }] };
    const descriptionOf = (decision: Awaited<ReturnType<typeof decideAccess>>) =>
      decision.kind === "respond" ? (JSON.parse(decision.response.body) as { error_description: string }).error_description : undefined;
    const post = async (claims: Record<string, unknown>, body: string) =>
      plainRequest({ headers: { authorization: [`Bearer ${await signAccessToken(key, { issuer: jwks.url, audience: RESOURCE, claims })}`], "content-type": ["application/json"] }, body });

    it("refuses a token holding no mapped scope with 403 before reading the body, naming who and what it holds", async () => {
      const request = await post({ sub: undefined, azp: "cli", scope: "openid profile" }, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
      const decision = await decideAccess(policyWith(mapping), request, services);
      expect(decision.kind === "respond" && decision.response.status).to.equal(403);
      expect(request.asked).not.to.include("body");
      expect(descriptionOf(decision)).to.equal("the token's scopes allow nothing on this resource");
      expect(decision.log?.message).to.equal("mcp-oauth2: 403 on /mcp: token of cli holds [openid profile], none of which scope_method_mapping or scope_hierarchy names");
    });

    it("reads the body in dry_run for a token holding no mapped scope, and lets the request through", async () => {
      const request = await post({ scope: "openid" }, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
      const decision = await decideAccess(policyWith({ ...mapping, acl_mode: "dry_run" }), request, services);
      expect(decision.kind).to.equal("proceed");
      expect(request.asked).to.include("body");
    });

    it("says which calls are denied and that no configured scope allows them", async () => {
      const request = await post({ sub: "alice", scope: "mcp:tools" }, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "prompts/list" }));
      const decision = await decideAccess(policyWith(mapping), request, services);
      expect(decision.kind === "respond" && decision.response.status).to.equal(403);
      expect(descriptionOf(decision)).to.equal("the token's scopes do not allow prompts/list");
      expect(decision.log?.message).to.equal("mcp-oauth2: 403 on /mcp: insufficient scope for prompts/list: token of alice holds [mcp:tools], no configured scope allows it");
    });

    it("names the scopes held and the scopes that would do, space-separated", async () => {
      const request = await post({ sub: "alice", scope: "mcp:tools openid" }, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "admin_wipe" } }));
      const policy = policyWith({ enable_acl: true, scope_method_mapping: [{ scope: "mcp:tools", methods: ["tools/list"] }, { scope: "mcp:admin", methods: ["tools/call:admin_*"] }] });
      const decision = await decideAccess(policy, request, services);
      expect(decision.log?.message).to.equal("mcp-oauth2: 403 on /mcp: insufficient scope for tools/call admin_wipe: token of alice holds [mcp:tools openid], would need [mcp:admin mcp:tools]");
    });

    it("names at most three denied calls, items included, and counts the rest", async () => {
      const batch = JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "prompts/list" },
        { jsonrpc: "2.0", id: 2, method: "prompts/get", params: { name: "greet" } },
        { jsonrpc: "2.0", id: 3, method: "resources/list" },
        { jsonrpc: "2.0", id: 4, method: "logging/setLevel", params: { level: "debug" } },
        { jsonrpc: "2.0", id: 5, method: "completion/complete", params: {} },
      ]);
      const decision = await decideAccess(policyWith(mapping), await post({ sub: "alice", scope: "mcp:tools" }, batch), services);
      expect(descriptionOf(decision)).to.equal("the token's scopes do not allow prompts/list, prompts/get greet, resources/list and 2 more");
      const three = JSON.stringify(JSON.parse(batch).slice(0, 3));
      expect(descriptionOf(await decideAccess(policyWith(mapping), await post({ sub: "alice", scope: "mcp:tools" }, three), services))).to.equal(
        "the token's scopes do not allow prompts/list, prompts/get greet, resources/list",
      );
    });

    it("shares who the token names with later plugins, leaving out absent claims", async () => {
      const named = await decideAccess(policyWith(mapping), await post({ sub: "alice", azp: "cli", scope: "mcp:tools" }, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" })), services);
      expect(named.kind === "proceed" && named.shared).to.deep.equal({ issuer: jwks.url, subject: "alice", client_id: "cli", scopes: ["mcp:tools"] });
      const anonymous = await decideAccess(policyWith(mapping), await post({ sub: undefined, azp: undefined, scope: "mcp:tools" }, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" })), services);
      expect(anonymous.kind === "proceed" && anonymous.shared).to.deep.equal({ issuer: jwks.url, scopes: ["mcp:tools"] });
    });

    it("refuses everything when the mapping is empty, saying why", async () => {
      const request = await post({ sub: "alice", scope: "mcp:tools" }, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
      const decision = await decideAccess(policyWith({ enable_acl: true, scope_method_mapping: [] }), request, services);
      expect(decision.kind === "respond" && decision.response.status).to.equal(403);
      expect(descriptionOf(decision)).to.equal("no JSON-RPC method is allowed on this resource");
      expect(decision.log?.message).to.equal("mcp-oauth2: 403 on /mcp: scope_method_mapping is empty, so the ACL refuses every request");
    });

    it("in dry_run, says an empty mapping would refuse every request", async () => {
      const request = await post({ sub: "alice", scope: "mcp:tools" }, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
      const decision = await decideAccess(policyWith({ enable_acl: true, acl_mode: "dry_run", scope_method_mapping: [] }), request, services);
      expect(decision.kind).to.equal("proceed");
      expect(decision.log?.message).to.equal("mcp-oauth2: dry run: would refuse 403 on /mcp: scope_method_mapping is empty, so the ACL refuses every request");
    });

    it("reads a body of exactly max_body_size and refuses one byte more (413)", async () => {
      const call = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" });
      const policy = policyWith({ ...mapping, max_body_size: call.length });
      expect((await decideAccess(policy, await post({ scope: "mcp:tools" }, call), services)).kind).to.equal("proceed");
      const larger = await decideAccess(policy, await post({ scope: "mcp:tools" }, `${call} `), services);
      expect(larger.kind === "respond" && larger.response.status).to.equal(413);
      expect(larger.log?.message).to.equal(`mcp-oauth2: 413 on /mcp: the request body is larger than ${call.length} bytes`);
    });

    it("answers 413 when Kong hands over no body (larger than it buffers), saying why in the log", async () => {
      const request = await post({ scope: "mcp:tools" }, "");
      const decision = await decideAccess(policyWith({ ...mapping, max_body_size: 1024 }), { ...request, body: () => Promise.resolve(undefined) }, services);
      expect(decision.kind === "respond" && JSON.parse(decision.response.body)).to.deep.equal({ error: "request_too_large", error_description: "the request body could not be read within the size limit" });
      expect(decision.log?.message).to.equal(
        "mcp-oauth2: 413 on /mcp: Kong did not hand over the body: larger than max_body_size (1024) or, before Kong 3.8, larger than client_body_buffer_size",
      );
    });
  });

  it("asks only for path and headers to refuse a missing token when resource is configured", async () => {
    const request = plainRequest({});
    const decision = await decideAccess(policyWith(), request, services);
    expect(decision.kind === "respond" && decision.response.status).to.equal(401);
    expect(request.asked).to.deep.equal(["path", "headers"]);
  });

  it("asks for the method only on a refusal when run_on_preflight is off", async () => {
    const request = plainRequest({ method: "OPTIONS" });
    const decision = await decideAccess(policyWith({ run_on_preflight: false }), request, services);
    expect(decision).to.deep.equal({ kind: "proceed", shared: { preflight: true }, clearHeaders: ["Authorization"], setHeaders: [], turnOffResponseBuffering: false });
    expect(request.asked).to.deep.equal(["path", "headers", "method"]);
  });

  it("lets a preflight through without the token header unless forwarding, and never with client-sent identity headers", async () => {
    const upstream_headers = [{ header: "X-MCP-Subject", claim: "sub" }, { header: "X-MCP-Client", claim: "azp" }];
    const stripped = await decideAccess(policyWith({ run_on_preflight: false, upstream_headers }), plainRequest({ method: "OPTIONS" }), services);
    expect(stripped).to.deep.equal({ kind: "proceed", shared: { preflight: true }, clearHeaders: ["Authorization", "X-MCP-Subject", "X-MCP-Client"], setHeaders: [], turnOffResponseBuffering: false });
    const forwarding = await decideAccess(
      policyWith({ run_on_preflight: false, upstream_headers, forward_authorization_header: true }),
      plainRequest({ method: "OPTIONS" }),
      services,
    );
    expect(forwarding).to.deep.equal({ kind: "proceed", shared: { preflight: true }, clearHeaders: ["X-MCP-Subject", "X-MCP-Client"], setHeaders: [], turnOffResponseBuffering: false });
  });

  it("never throws: a failing request source becomes a 500 refusal with an operator log", async () => {
    const broken: RequestSource = { ...plainRequest({}), headers: () => Promise.reject(new TypeError("socket closed")) };
    const decision = await decideAccess(policyWith(), broken, services);
    expect(decision.kind).to.equal("respond");
    if (decision.kind !== "respond") return;
    expect(decision.response.status).to.equal(500);
    expect(JSON.parse(decision.response.body)).to.deep.equal({ error: "server_error", error_description: "the gateway could not decide on this request" });
    expect(decision.log?.level).to.equal("err");
    expect(decision.log?.message).to.contain("unexpected error: TypeError: socket closed");
  });

  it("answers 500, never throws, when the request source fails again while the refusal is written", async () => {
    const broken: RequestSource = { ...plainRequest({}), path: () => Promise.reject(new TypeError("socket closed")) };
    const decision = await decideAccess(policyWith(), broken, services);
    expect(decision.kind === "respond" && decision.response.status).to.equal(500);
    expect(decision.log?.level).to.equal("err");
    expect(decision.log?.message).to.match(/^mcp-oauth2: unexpected error: TypeError: socket closed/);
  });

  it("clears the consumer headers of a CORS preflight it lets through (run_on_preflight off, consumer_claim set)", async () => {
    const decision = await decideAccess(policyWith({ run_on_preflight: false, consumer_claim: ["azp"] }), plainRequest({ method: "OPTIONS" }), services);
    expect(decision.kind === "proceed" && decision.consumerHeaders).to.deep.equal({ "X-Consumer-ID": [], "X-Consumer-Custom-ID": [], "X-Consumer-Username": [], "X-Credential-Identifier": [], "X-Anonymous-Consumer": [] });
  });

  describe("work for a request without a valid token", () => {
    const aclPolicy = () =>
      policyWith({ enable_acl: true, scopes_supported: ["mcp:tools", "mcp:admin"], scope_method_mapping: [{ scope: "mcp:admin", methods: ["tools/call:admin_*"] }] });
    const adminCall = (padding: number) => JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "admin_wipe", arguments: { pad: "x".repeat(padding) } } });

    function challengeOf(decision: Awaited<ReturnType<typeof decideAccess>>): string | undefined {
      return decision.kind === "respond" ? decision.response.headers["WWW-Authenticate"] : undefined;
    }

    const declaring = (body: string) => ({ body, headers: { "content-type": ["application/json"], "content-length": [String(Buffer.byteLength(body))] } });

    it("reads at most 16 KiB of body to choose a 401's scope, and asks for scopes_supported past that", async () => {
      const limits: number[] = [];
      const small = plainRequest(declaring(adminCall(100)));
      const large = plainRequest({ ...declaring(adminCall(20_000)), headers: { "content-type": ["application/json"], "content-length": ["16384"] } });
      for (const request of [small, large]) {
        const read = request.body;
        request.body = (maxBytes) => (limits.push(maxBytes), read(maxBytes));
      }
      expect(challengeOf(await decideAccess(aclPolicy(), small, services))).to.equal('Bearer scope="mcp:admin", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"');
      expect(challengeOf(await decideAccess(aclPolicy(), large, services))).to.equal('Bearer scope="mcp:tools mcp:admin", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"');
      expect(limits).to.deep.equal([16384, 16384]);
    });

    it("asks for scopes_supported with the ACL off, and for notifications, whatever the body names", async () => {
      const toolCall = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "admin_wipe" } });
      const aclOff = await decideAccess(policyWith({ scopes_supported: ["mcp:tools"] }), plainRequest(declaring(toolCall)), services);
      expect(aclOff.kind === "respond" && aclOff.response.status).to.equal(401);
      expect(challengeOf(aclOff)).to.equal('Bearer scope="mcp:tools", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"');
      const mapping = [{ scope: "mcp:admin", methods: ["tools/call:admin_*"] }, { scope: "mcp:lifecycle", methods: ["notifications/*"] }];
      // notifications/progress is not a session method: only its being a notification keeps its scope out.
      const notification = JSON.stringify({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } });
      const policy = policyWith({ enable_acl: true, scopes_supported: ["mcp:tools", "mcp:admin"], scope_method_mapping: mapping });
      expect(challengeOf(await decideAccess(policy, plainRequest(declaring(notification)), services))).to.contain('scope="mcp:tools mcp:admin"');
    });

    it("does not read a body whose Content-Length is over 16 KiB, or that declares none (chunked)", async () => {
      const undeclared: Record<string, string[]> = { "content-type": ["application/json"] };
      for (const headers of [{ ...undeclared, "content-length": ["16385"] }, undeclared]) {
        const request = plainRequest({ body: adminCall(100), headers });
        expect(challengeOf(await decideAccess(aclPolicy(), request, services))).to.contain('scope="mcp:tools mcp:admin"');
        expect(request.asked).not.to.include("body");
      }
    });
  });

  it("refuses a protocol upgrade with the ACL on, before reading the body, and lets it through with the ACL off", async () => {
    const token = await signAccessToken(key, { issuer: jwks.url, audience: RESOURCE, claims: { scope: "mcp:tools" } });
    const headers = { authorization: [`Bearer ${token}`], upgrade: ["websocket", "h2c"], connection: ["Upgrade"] };
    const request = plainRequest({ method: "GET", headers });
    const refused = await decideAccess(policyWith({ enable_acl: true, scope_method_mapping: [{ scope: "mcp:tools", methods: ["*"] }] }), request, services);
    expect(refused.kind === "respond" && refused.response).to.deep.equal({
      status: 400,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ error: "invalid_request", error_description: "protocol upgrades are not accepted on an MCP endpoint with the ACL on" }),
    });
    expect(refused.log).to.deep.equal({ level: "notice", message: 'mcp-oauth2: 400 on /mcp: Upgrade "websocket, h2c" refused: the ACL could not see what follows it (token of user-1)' });
    const anonymous = await signAccessToken(key, { issuer: jwks.url, audience: RESOURCE, claims: { scope: "mcp:tools", sub: undefined, azp: undefined } });
    const unnamed = await decideAccess(policyWith({ enable_acl: true, scope_method_mapping: [{ scope: "mcp:tools", methods: ["*"] }] }), plainRequest({ method: "GET", headers: { ...headers, authorization: [`Bearer ${anonymous}`] } }), services);
    expect(unnamed.log?.message).to.match(/\(token of unknown subject\)$/);
    expect(request.asked).not.to.include("body");
    expect((await decideAccess(policyWith(), plainRequest({ method: "GET", headers }), services)).kind).to.equal("proceed");
  });

  it("logs a client error at notice, naming the token's holder, only once the token is verified", async () => {
    const token = await signAccessToken(key, { issuer: jwks.url, audience: RESOURCE, claims: { scope: "mcp:tools", sub: "alice" } });
    const policy = policyWith({ enable_acl: true, scope_method_mapping: [{ scope: "mcp:tools", methods: ["*"] }] });
    const asText = await decideAccess(policy, plainRequest({ headers: { authorization: [`Bearer ${token}`], "content-type": ["text/plain"] }, body: "{}" }), services);
    expect(asText.kind === "respond" && asText.response.status).to.equal(415);
    expect(asText.log).to.deep.equal({ level: "notice", message: 'mcp-oauth2: 415 on /mcp: JSON-RPC bodies must be sent as application/json: content-type "text/plain" (token of alice)' });
    // Before the token is verified nobody is accountable: a malformed credential, like a missing one,
    // is not logged, and its challenge names no scope, so its body is not read.
    const call = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x" } });
    const malformedHeaders = { authorization: [`Bearer ${token}`, `Bearer ${token}`], "content-type": ["application/json"], "content-length": [String(call.length)] };
    const malformedRequest = plainRequest({ headers: malformedHeaders, body: call });
    const malformed = await decideAccess(policy, malformedRequest, services);
    expect(malformed.kind === "respond" && malformed.response.status).to.equal(400);
    expect(malformed.log).to.equal(undefined);
    expect(malformedRequest.asked).not.to.include("body");
  });

  describe("filter_lists: what the list filter gets, and which responses Kong buffers", () => {
    const mapping = [{ scope: "mcp:tools", methods: ["tools/list", "tools/call:weather_*"] }, { scope: "mcp:admin", methods: ["tools/*"] }];
    const decide = async (scope: string, body: string, config: Record<string, unknown> = {}) => {
      const token = await signAccessToken(key, { issuer: jwks.url, audience: RESOURCE, claims: { scope, sub: "alice" } });
      const policy = policyWith({ enable_acl: true, filter_lists: true, scope_method_mapping: mapping, ...config });
      const decision = await decideAccess(policy, plainRequest({ headers: { authorization: [`Bearer ${token}`], "content-type": ["application/json"] }, body }), services);
      if (decision.kind !== "proceed") throw new Error(`refused: ${decision.response.body}`);
      return decision;
    };
    const toolsList = JSON.stringify({ jsonrpc: "2.0", id: 4, method: "tools/list" });

    it("hands over what the token may list, sends the list request upstream under the gateway's id, and keeps Kong's buffering", async () => {
      const decision = await decide("mcp:tools", toolsList);
      const answeredAs = (decision.shared as unknown as { listing: { requests: { answered_as: string }[] } }).listing.requests[0]!.answered_as;
      expect(answeredAs).to.match(/^"mcp-oauth2-[A-Za-z0-9_-]{22}"$/);
      expect(decision.upstreamBody).to.equal(toolsList.replace('"id":4', `"id":${answeredAs}`));
      expect(decision.shared).to.deep.equal({
        issuer: jwks.url,
        subject: "alice",
        client_id: "mcp-client",
        scopes: ["mcp:tools"],
        filter_lists: true,
        listing: { grants: { "tools/call": ["weather_*"], "prompts/get": [], "resources/read": [] }, requests: [{ method: "tools/list", answered_as: answeredAs, asked_as: "4" }], dry_run: false },
      });
      expect(decision.turnOffResponseBuffering).to.equal(false);
      const dryRun = await decide("mcp:tools", toolsList, { acl_mode: "dry_run" });
      expect([(dryRun.shared as { listing: { dry_run: boolean } }).listing.dry_run, dryRun.upstreamBody]).to.deep.equal([true, undefined]);
    });

    it("turns Kong's buffering off when there is nothing to filter: no list, or a list the token sees whole", async () => {
      for (const [scope, body] of [["mcp:tools", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "weather_now" } })], ["mcp:admin", toolsList]]) {
        const decision = await decide(scope!, body!);
        expect(decision.turnOffResponseBuffering, scope).to.equal(true);
        expect(decision.shared, scope).not.to.have.property("listing");
        expect(decision.upstreamBody, scope).to.equal(undefined);
      }
    });

    it("clears Last-Event-ID for a token that may not see every list whole, and only then", async () => {
      const resume = async (scope: string, config: Record<string, unknown> = {}) => {
        const token = await signAccessToken(key, { issuer: jwks.url, audience: RESOURCE, claims: { scope, sub: "alice" } });
        const everything = [...mapping, { scope: "mcp:all", methods: ["*"] }];
        const policy = policyWith({ enable_acl: true, filter_lists: true, scope_method_mapping: everything, ...config });
        const decision = await decideAccess(policy, plainRequest({ method: "GET", headers: { authorization: [`Bearer ${token}`], "last-event-id": ["s_1"] } }), services);
        if (decision.kind !== "proceed") throw new Error(`refused: ${decision.response.body}`);
        return decision.clearHeaders;
      };
      expect(await resume("mcp:tools")).to.deep.equal(["Authorization", "last-event-id"]);
      expect(await resume("mcp:admin"), "every tool, no prompt or resource").to.deep.equal(["Authorization", "last-event-id"]);
      expect(await resume("mcp:all")).to.deep.equal(["Authorization"]);
      expect(await resume("mcp:tools", { acl_mode: "dry_run" })).to.deep.equal(["Authorization"]);
      expect(await resume("mcp:tools", { filter_lists: false })).to.deep.equal(["Authorization"]);
    });

    it("leaves buffering and the shared context alone without filter_lists, or with the ACL off", async () => {
      for (const config of [{ filter_lists: false }, { enable_acl: false }]) {
        const decision = await decide("mcp:tools", toolsList, config);
        expect(decision.shared, JSON.stringify(config)).not.to.have.property("listing");
        expect(decision.turnOffResponseBuffering, JSON.stringify(config)).to.equal(config.enable_acl === false);
      }
    });
  });

  it("cuts the client's path in an operator log line", async () => {
    const token = await signAccessToken(key, { issuer: jwks.url, audience: `${RESOURCE}/other` });
    const decision = await decideAccess(policyWith(), plainRequest({ path: `/mcp/${"p".repeat(10_000)}`, headers: { authorization: [`Bearer ${token}`] } }), services);
    expect(decision.log?.message).to.match(/^mcp-oauth2: 401 on \/mcp\/p{192}\.\.\.: audience mismatch/);
  });

  it("refuses an unusable Host instead of echoing it into the challenge", async () => {
    const request: RequestSource = { ...plainRequest({}), forwardedOrigin: () => Promise.reject(new InvalidRequest("the request's Host cannot be used for a resource URL")) };
    const decision = await decideAccess(policyWith({ resource: undefined }), request, services);
    expect(decision.kind === "respond" && decision.response.status).to.equal(400);
    expect(decision.kind === "respond" && decision.response.headers["WWW-Authenticate"]).to.equal(
      'Bearer error="invalid_request", error_description="the request\'s Host cannot be used for a resource URL"',
    );
  });
  describe("Kong consumers and the decision record", () => {
    const MACHINE: KongConsumer = { id: "5f6c2b2e-2f0b-4c4e-9a51-1d6a1e9f3a10", username: "mcp-machine" };
    const ACL = { enable_acl: true, scope_method_mapping: [{ scope: "mcp:tools", methods: ["tools/*"] }, { scope: "mcp:weather", methods: ["tools/call:weather_*"] }] };
    const toolCall = (name: string) => JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name } });
    const postWith = (token: string, body: string) => ({ headers: { authorization: [`Bearer ${token}`], "content-type": ["application/json"] }, body, consumers: [MACHINE] });
    const machineToken = (scope: string) => signAccessToken(key, { issuer: jwks.url, audience: RESOURCE, claims: { sub: "svc-1", azp: "mcp-machine", scope } });

    it("looks the consumer up after the token is verified, before the body, and hands Kong the consumer and its headers", async () => {
      const request = plainRequest(postWith(await machineToken("mcp:weather"), toolCall("weather_today")));
      const decision = await decideAccess(policyWith({ ...ACL, consumer_claim: ["azp"] }), request, services);
      expect(request.asked).to.deep.equal(["path", "headers", "loadConsumer mcp-machine", "body"]);
      expect(decision).to.deep.include({
        kind: "proceed",
        identity: { kind: "consumer", consumer: MACHINE, credential: { id: "mcp-machine", consumer_id: MACHINE.id }, claim: "azp" },
        consumerHeaders: {
          "X-Consumer-ID": MACHINE.id,
          "X-Consumer-Custom-ID": [],
          "X-Consumer-Username": "mcp-machine",
          "X-Credential-Identifier": "mcp-machine",
          "X-Anonymous-Consumer": [],
        },
      });
      expect(decision).not.to.have.property("record");
    });

    it("never looks consumers up for a request without a valid token", async () => {
      const request = plainRequest({ consumers: [MACHINE] });
      await decideAccess(policyWith({ consumer_claim: ["azp"] }), request, services);
      expect(request.asked).to.deep.equal(["path", "headers"]);
    });

    it("records an allowed request: who, the calls and the scope that allowed each", async () => {
      const batch = JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "weather_today" } },
        { jsonrpc: "2.0", id: 2, method: "tools/list" },
      ]);
      const decision = await decideAccess(policyWith({ ...ACL, consumer_claim: ["azp"], log_decisions: true }), plainRequest(postWith(await machineToken("mcp:tools mcp:weather"), batch)), services);
      expect(decision.record).to.deep.equal({
        decision: "allowed",
        issuer: jwks.url,
        subject: "svc-1",
        client_id: "mcp-machine",
        consumer: { id: MACHINE.id, username: "mcp-machine" },
        calls: [
          { method: "tools/call", item: "weather_today", scope: "mcp:weather" },
          { method: "tools/list", scope: "mcp:tools" },
        ],
      });
    });

    it("records a refusal with its reason, and still tells Kong who was refused", async () => {
      const decision = await decideAccess(policyWith({ ...ACL, consumer_claim: ["azp"], log_decisions: true }), plainRequest(postWith(await machineToken("mcp:weather"), toolCall("admin_reset"))), services);
      expect(decision).to.deep.include({ kind: "respond", identity: { kind: "consumer", consumer: MACHINE, credential: { id: "mcp-machine", consumer_id: MACHINE.id }, claim: "azp" } });
      expect(decision.record).to.deep.equal({
        decision: "refused",
        status: 403,
        reason: "insufficient_scope",
        description: "the token's scopes do not allow tools/call admin_reset",
        issuer: jwks.url,
        subject: "svc-1",
        client_id: "mcp-machine",
        consumer: { id: MACHINE.id, username: "mcp-machine" },
        calls: [{ method: "tools/call", item: "admin_reset" }],
      });
    });

    it("records a body the ACL cannot read as invalid_request, with the JSON-RPC error's message", async () => {
      const decision = await decideAccess(policyWith({ ...ACL, log_decisions: true }), plainRequest(postWith(await machineToken("mcp:weather"), "{not json")), services);
      expect(decision.record).to.deep.include({ decision: "refused", status: 400, reason: "invalid_request", description: "the body is not valid UTF-8 JSON" });
    });

    it("records what it knew of a request refused early: nothing of a missing token", async () => {
      const decision = await decideAccess(policyWith({ log_decisions: true }), plainRequest({}), services);
      expect(decision.record).to.deep.equal({ decision: "refused", status: 401, reason: "unauthorized", description: "no bearer token in the request" });
    });

    it("records would_refuse in dry_run, and a preflight let through", async () => {
      const dryRun = await decideAccess(policyWith({ ...ACL, acl_mode: "dry_run", log_decisions: true }), plainRequest(postWith(await machineToken("mcp:weather"), toolCall("admin_reset"))), services);
      expect(dryRun).to.deep.include({ kind: "proceed" });
      expect(dryRun.record).to.deep.include({ decision: "would_refuse", status: 403, reason: "insufficient_scope", calls: [{ method: "tools/call", item: "admin_reset" }] });
      const preflight = await decideAccess(policyWith({ run_on_preflight: false, log_decisions: true }), plainRequest({ method: "OPTIONS" }), services);
      expect(preflight.record).to.deep.equal({ decision: "allowed", preflight: true });
    });
  });
});
