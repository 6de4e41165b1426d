import { expect } from "chai";
import type { ConsumerEntity, HeaderList, Outcome, PluginConfiguration } from "../../../kong/driver";
import {
  expectProxied,
  findHeaderValues,
  formatToolCall,
  listPdkMethods,
  postToMcp,
  readAnswer,
  sendThroughGate,
  startGateFixture,
  type GateFixture,
} from "../../support/gate-requests";
import { PLUGIN_SERVER_IMPLEMENTATIONS, readEchoAnswer } from "../../support/plugin-server-fixture";
import { createTestPluginDirectory, echoConfig, type EchoStep, type TestPluginDirectory } from "../../support/test-plugins";

const MACHINE: ConsumerEntity = { id: "5f6c2b2e-2f0b-4c4e-9a51-1d6a1e9f3a10", username: "mcp-machine", custom_id: null, created_at: 1700000000, tags: ["mcp"] };
const ALICE: ConsumerEntity = { id: "0b7e9c1a-3d2f-4e5a-8b6c-7d8e9f0a1b2c", username: "alice", custom_id: "employee-17" };
const GUEST: ConsumerEntity = { id: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", username: "guest" };
/** MACHINE as Kong hands the entity to plugins: no null fields. */
const MACHINE_AS_READ = { id: MACHINE.id, username: "mcp-machine", created_at: 1700000000, tags: ["mcp"] };

const KONG_HEADERS = ["X-Consumer-ID", "X-Consumer-Custom-ID", "X-Consumer-Username", "X-Credential-Identifier", "X-Anonymous-Consumer"];
/** Values a client might send to pass for a consumer: never to reach the upstream or the plugins after. */
const SPOOFED: HeaderList = KONG_HEADERS.map((name) => [name, "spoofed"]);

const ACL = { enable_acl: true, scope_method_mapping: [{ scope: "mcp:tools", methods: ["tools/*"] }, { scope: "mcp:weather", methods: ["tools/call:weather_*"] }] };

/** What a plugin after mcp-oauth2 reads: the consumer, the credential and Kong's headers. */
const READER_STEPS: EchoStep[] = [["kong.client.get_consumer"], ["kong.client.get_credential"], ...KONG_HEADERS.map((name): EchoStep => ["kong.request.get_header", name])];

interface SeenByLaterPlugin {
  consumer: unknown;
  credential: unknown;
  headers: Record<string, unknown>;
}

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`mcp-oauth2 and Kong consumers (${implementation} plugin server)`, () => {
    let fixture: GateFixture;
    let reader: TestPluginDirectory;

    before(async () => {
      reader = createTestPluginDirectory("echo");
      fixture = await startGateFixture(implementation, {
        tokens: { claims: { sub: "svc-1", azp: "mcp-machine", scope: "mcp:tools" } },
        driverOptions: { consumers: [MACHINE, ALICE, GUEST], otherPluginsDirectories: [reader.path] },
      });
    });
    after(async () => {
      await fixture?.close();
      reader?.remove();
    });

    /** Routes /mcp through mcp-oauth2 with `config`, then (echo, priority 1000) a plugin that reads what it left. */
    function route(config: Record<string, unknown>, options: { reader?: boolean } = {}): void {
      // Listed first, run second: Kong orders a route's plugins by priority (mcp-oauth2 1300, echo 1000).
      const plugins: PluginConfiguration[] = [{ id: "mcp-oauth2", config: { ...fixture.baseConfig, ...config } }];
      if (options.reader !== false) plugins.unshift({ id: "reader", name: "echo", config: echoConfig(READER_STEPS) });
      fixture.driver.configureRoutes([{ id: "mcp", paths: ["/mcp"], stripPath: false, plugins }]);
    }

    async function send(claims: Record<string, unknown>, body = formatToolCall("weather_today"), headers: HeaderList = []): Promise<Outcome> {
      return sendThroughGate(fixture.driver, postToMcp(await fixture.issueToken({ claims }), body, headers));
    }

    /** What the echo plugin after mcp-oauth2 read, from its answer. */
    function seenByLaterPlugin(outcome: Outcome): SeenByLaterPlugin {
      const [consumer, credential, ...headers] = readEchoAnswer(outcome).results;
      return {
        consumer: consumer?.value,
        credential: credential?.value,
        headers: Object.fromEntries(KONG_HEADERS.map((name, index) => [name, headers[index]?.value])),
      };
    }

    function ourPdkMethods(outcome: Outcome): string[] {
      return listPdkMethods({ ...outcome, pdkCalls: outcome.pdkCalls.filter((call) => call.plugin === "mcp-oauth2") });
    }

    describe("a consumer matched by a claim", () => {
      it("is authenticated with Kong: the plugin after ours reads the consumer, the token's credential and Kong's headers", async () => {
        route({ consumer_claim: ["azp", "sub"] });
        const outcome = await send({ sub: "svc-1", azp: "mcp-machine" }, undefined, SPOOFED);
        expect(seenByLaterPlugin(outcome)).to.deep.equal({
          consumer: MACHINE_AS_READ,
          credential: { id: "mcp-machine", consumer_id: MACHINE.id },
          headers: {
            "X-Consumer-ID": MACHINE.id,
            "X-Consumer-Custom-ID": undefined,
            "X-Consumer-Username": "mcp-machine",
            "X-Credential-Identifier": "mcp-machine",
            "X-Anonymous-Consumer": undefined,
          },
        });
      });

      it("tries the claims in order: an absent or unknown one gives way to the next", async () => {
        route({ consumer_claim: ["client_id", "azp", "sub"] });
        const outcome = await send({ sub: "alice", azp: "vscode" });
        expect(seenByLaterPlugin(outcome)).to.deep.include({ credential: { id: "vscode", consumer_id: ALICE.id } });
        expect(seenByLaterPlugin(outcome).headers).to.deep.include({ "X-Consumer-Username": "alice", "X-Consumer-Custom-ID": "employee-17" });
      });

      it("is found by id when the claim is one (Keycloak's sub is the user's UUID)", async () => {
        route({ consumer_claim: ["sub"], consumer_by: ["id"] });
        const outcome = await send({ sub: ALICE.id, azp: "vscode" });
        expect(seenByLaterPlugin(outcome).consumer).to.deep.include({ id: ALICE.id, username: "alice" });
        expect(ourPdkMethods(outcome)).to.include("kong.client.load_consumer");
        const byName = await send({ sub: "alice", azp: "vscode" });
        expect(readAnswer(byName).status).to.equal(401);
      });

      it("reaches the upstream with Kong's headers and none the client sent", async () => {
        route({ consumer_claim: ["azp"] }, { reader: false });
        const proxied = expectProxied(await send({ azp: "mcp-machine" }, undefined, SPOOFED));
        expect(KONG_HEADERS.map((name) => findHeaderValues(proxied.upstreamRequest.headers, name))).to.deep.equal([[MACHINE.id], [], ["mcp-machine"], ["mcp-machine"], []]);
        expect(proxied.consumer).to.deep.equal(MACHINE_AS_READ);
      });

      it("lets a preflight through (run_on_preflight off) with none of the consumer headers the client sent", async () => {
        route({ consumer_claim: ["azp"], run_on_preflight: false }, { reader: false });
        const preflight = expectProxied(await sendThroughGate(fixture.driver, { method: "OPTIONS", path: "/mcp", headers: SPOOFED }));
        expect(KONG_HEADERS.map((name) => findHeaderValues(preflight.upstreamRequest.headers, name))).to.deep.equal([[], [], [], [], []]);
        expect(preflight.consumer).to.equal(undefined);
      });
    });

    describe("no consumer matched", () => {
      it("is refused with 401 invalid_token naming the claims, and no later plugin runs", async () => {
        route({ ...ACL, consumer_claim: ["azp", "client_id"] });
        const outcome = await send({ sub: "svc-9", azp: "unknown-client" });
        const answer = readAnswer(outcome);
        expect(answer.status).to.equal(401);
        expect(answer.body).to.deep.equal({ error: "invalid_token", error_description: "no consumer matches the token's claims azp, client_id" });
        expect(answer.headers["www-authenticate"]).to.equal(
          `Bearer error="invalid_token", error_description="no consumer matches the token's claims azp, client_id", scope="mcp:weather", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`,
        );
        expect(outcome.pdkCalls.every((call) => call.plugin === "mcp-oauth2")).to.equal(true);
        // The body is read for the challenge's scope (ACL on); one lookup for the claim that has a value.
        expect(ourPdkMethods(outcome)).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.client.load_consumer", "kong.request.get_raw_body", "kong.log.warn", "kong.response.exit"]);
        expect(outcome.logs.map((entry) => entry.message)).to.include(
          'mcp-oauth2: 401 on /mcp: no Kong consumer for the token of svc-9: azp "unknown-client": no consumer with that username; client_id: absent',
        );
      });

      it("authenticates as the anonymous consumer, without a credential, marked X-Anonymous-Consumer", async () => {
        route({ consumer_claim: ["azp"], anonymous: GUEST.id });
        expect(seenByLaterPlugin(await send({ azp: "unknown-client" }, undefined, SPOOFED))).to.deep.equal({
          consumer: GUEST,
          credential: undefined,
          headers: {
            "X-Consumer-ID": GUEST.id,
            "X-Consumer-Custom-ID": undefined,
            "X-Consumer-Username": "guest",
            "X-Credential-Identifier": undefined,
            "X-Anonymous-Consumer": "true",
          },
        });
      });

      it("goes on with the token's credential alone under consumer_optional", async () => {
        route({ consumer_claim: ["azp"], consumer_optional: true });
        expect(seenByLaterPlugin(await send({ azp: "unknown-client" }, undefined, SPOOFED))).to.deep.equal({
          consumer: undefined,
          credential: { id: "unknown-client" },
          headers: { "X-Consumer-ID": undefined, "X-Consumer-Custom-ID": undefined, "X-Consumer-Username": undefined, "X-Credential-Identifier": "unknown-client", "X-Anonymous-Consumer": undefined },
        });
      });

      it("answers 500 when the anonymous consumer does not exist", async () => {
        route({ consumer_claim: ["azp"], anonymous: "nobody" });
        const outcome = await send({ azp: "unknown-client" });
        expect(readAnswer(outcome)).to.deep.include({ status: 500, body: { error: "server_error", error_description: "the gateway's mcp-oauth2 configuration is invalid" } });
        expect(outcome.logs.map((entry) => entry.message)).to.include('mcp-oauth2: 500 on /mcp: the anonymous consumer "nobody" does not exist (by id or username)');
      });
    });

    describe("the decision in Kong's log serializer (log_decisions)", () => {
      it("records an allowed call with its consumer and the scope that allowed it; never the token", async () => {
        route({ ...ACL, consumer_claim: ["azp"], log_decisions: true });
        const token = await fixture.issueToken({ claims: { sub: "svc-1", azp: "mcp-machine", scope: "mcp:weather" } });
        const outcome = await sendThroughGate(fixture.driver, postToMcp(token, formatToolCall("weather_today")));
        expect(outcome.serialized).to.deep.equal({
          mcp_oauth2: {
            decision: "allowed",
            issuer: fixture.jwks.url,
            subject: "svc-1",
            client_id: "mcp-machine",
            consumer: { id: MACHINE.id, username: "mcp-machine" },
            calls: [{ method: "tools/call", item: "weather_today", scope: "mcp:weather" }],
          },
        });
        expect(JSON.stringify(outcome.serialized)).not.to.contain(token.split(".")[1]);
      });

      it("records refusals alike, and tells Kong who was refused", async () => {
        route({ ...ACL, consumer_claim: ["azp"], log_decisions: true }, { reader: false });
        const refused = await send({ sub: "svc-1", azp: "mcp-machine", scope: "mcp:weather" }, formatToolCall("admin_reset"));
        expect(readAnswer(refused).status).to.equal(403);
        expect(refused.consumer).to.deep.equal(MACHINE_AS_READ);
        expect(refused.serialized).to.deep.include({
          mcp_oauth2: {
            decision: "refused",
            status: 403,
            reason: "insufficient_scope",
            description: "the token's scopes do not allow tools/call admin_reset",
            issuer: fixture.jwks.url,
            subject: "svc-1",
            client_id: "mcp-machine",
            consumer: { id: MACHINE.id, username: "mcp-machine" },
            calls: [{ method: "tools/call", item: "admin_reset" }],
          },
        });
        const missing = await sendThroughGate(fixture.driver, postToMcp(undefined, formatToolCall("weather_today")));
        expect(missing.serialized).to.deep.equal({ mcp_oauth2: { decision: "refused", status: 401, reason: "unauthorized", description: "no bearer token in the request" } });
      });
    });

    describe("PDK round trips (ACL on, cached token)", () => {
      const [PATH, HEADERS, BODY, CLEAR, SHARED, EXIT] = ["kong.request.get_path", "kong.request.get_headers", "kong.request.get_raw_body", "kong.service.request.clear_header", "kong.ctx.shared.set", "kong.response.exit"];
      const [LOAD, AUTHENTICATE, CONSUMER_HEADERS, SERIALIZE, NOTICE] = ["kong.client.load_consumer", "kong.client.authenticate", "kong.service.request.set_headers", "kong.log.set_serialize_value", "kong.log.notice"];

      /** Our PDK calls for an allowed tools/call, a 401 without a token and a 403 ACL denial. */
      async function countPaths(config: Record<string, unknown>, sub: string): Promise<Record<"allowed" | "refused" | "denied", string[]>> {
        route({ ...ACL, ...config }, { reader: false });
        const allowed = await send({ sub, scope: "mcp:weather" });
        expectProxied(allowed);
        const refused = await sendThroughGate(fixture.driver, postToMcp(undefined, formatToolCall("weather_today")));
        const denied = await send({ sub, scope: "mcp:weather" }, formatToolCall("admin_reset"));
        expect([readAnswer(refused).status, readAnswer(denied).status]).to.deep.equal([401, 403]);
        return { allowed: ourPdkMethods(allowed), refused: ourPdkMethods(refused), denied: ourPdkMethods(denied) };
      }

      it("with consumer_claim empty and log_decisions off: exactly today's 5 allowed / 4 refused (5 denied)", async () => {
        expect(await countPaths({ consumer_by: ["id"], consumer_optional: true, anonymous: "guest" }, "mcp-machine")).to.deep.equal({
          allowed: [PATH, HEADERS, BODY, CLEAR, SHARED],
          refused: [PATH, HEADERS, BODY, EXIT],
          denied: [PATH, HEADERS, BODY, NOTICE, EXIT],
        });
      });

      it("with consumer_claim: +authenticate and one set_headers (7), +load_consumer on a cache miss only; the 401 unchanged", async () => {
        // No other test looks "guest" up by username: the first request misses the plugin server's consumer cache.
        const miss = await countPaths({ consumer_claim: ["sub"] }, "guest");
        expect(miss.allowed).to.deep.equal([PATH, HEADERS, LOAD, BODY, AUTHENTICATE, CLEAR, CONSUMER_HEADERS, SHARED]);
        expect(await countPaths({ consumer_claim: ["sub"] }, "guest")).to.deep.equal({
          allowed: [PATH, HEADERS, BODY, AUTHENTICATE, CLEAR, CONSUMER_HEADERS, SHARED],
          refused: [PATH, HEADERS, BODY, EXIT],
          denied: [PATH, HEADERS, BODY, NOTICE, AUTHENTICATE, EXIT],
        });
      });

      it("with log_decisions: +set_serialize_value on every path (6 / 5)", async () => {
        expect(await countPaths({ log_decisions: true }, "mcp-machine")).to.deep.equal({
          allowed: [PATH, HEADERS, BODY, SERIALIZE, CLEAR, SHARED],
          refused: [PATH, HEADERS, BODY, SERIALIZE, EXIT],
          denied: [PATH, HEADERS, BODY, NOTICE, SERIALIZE, EXIT],
        });
      });

      it("with both: 8 allowed / 5 refused (consumer cached)", async () => {
        await countPaths({ consumer_claim: ["sub"], log_decisions: true }, "guest");
        expect(await countPaths({ consumer_claim: ["sub"], log_decisions: true }, "guest")).to.deep.equal({
          allowed: [PATH, HEADERS, BODY, AUTHENTICATE, SERIALIZE, CLEAR, CONSUMER_HEADERS, SHARED],
          refused: [PATH, HEADERS, BODY, SERIALIZE, EXIT],
          denied: [PATH, HEADERS, BODY, NOTICE, AUTHENTICATE, SERIALIZE, EXIT],
        });
      });
    });
  });
}
