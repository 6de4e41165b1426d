import { expect } from "chai";
import { UnemulatedPdkMethodError, type KongRequest, type Outcome } from "../../../kong/driver";
import {
  PLUGIN_SERVER_IMPLEMENTATIONS,
  readEchoAnswer,
  startDriverFixture,
  type DriverFixture,
} from "../../support/plugin-server-fixture";
import type { EchoResult, EchoStep } from "../../support/test-plugins";
import { routeToEcho } from "../echo-route";

const UNEXPECTED_ERROR_BODY = '{"message":"An unexpected error occurred"}';

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`PDK semantics through the driver (${implementation} plugin server)`, () => {
    let fixture: DriverFixture;

    before(async () => {
      fixture = await startDriverFixture(implementation, "echo");
    });
    after(() => fixture?.close());

    function run(steps: readonly EchoStep[], request: Partial<KongRequest> = {}, answer = true): Promise<Outcome> {
      routeToEcho(fixture.driver, steps, { answer });
      return fixture.driver.handle({ method: "POST", path: "/mcp", ...request });
    }

    async function results(steps: readonly EchoStep[], request: Partial<KongRequest> = {}): Promise<EchoResult[]> {
      return readEchoAnswer(await run(steps, request)).results;
    }

    /** The steps make Kong's Lua raise `message`: Kong answers 500 and logs it. */
    async function expectLuaError(steps: readonly EchoStep[], message: string): Promise<void> {
      const outcome = await run(steps);
      expect(outcome).to.include({ kind: "exit", source: "kong", status: 500 });
      expect(outcome.logs.map((entry) => entry.message)).to.include(message);
    }

    describe("headers", () => {
      const headers: KongRequest["headers"] = [
        ["X-Probe", "one"],
        ["x-probe", "two"],
        ["Content-Type", "application/json"],
        ["X_Forwarded_Host", "smuggled.example"],
      ];

      it("get_header returns the first value, case-insensitively, with '_' equal to '-'", async () => {
        const answer = await results(
          [["kong.request.get_header", "x_probe"], ["kong.request.get_header", "X-PROBE"], ["kong.request.get_header", "absent"]],
          { headers },
        );
        expect(answer).to.deep.equal([{ value: "one" }, { value: "one" }, { absent: true }]);
      });

      it("get_headers maps lower-case names to arrays; nginx dropped the name with '_'", async () => {
        expect(await results([["kong.request.get_headers"]], { headers })).to.deep.equal([
          { value: { "x-probe": ["one", "two"], "content-type": ["application/json"] } },
        ]);
      });

      it("get_headers(max) keeps the first max header lines", async () => {
        expect(await results([["kong.request.get_headers", 1]], { headers })).to.deep.equal([{ value: { "x-probe": ["one"] } }]);
      });

      it("get_headers(5000) raises in Lua: Kong answers 500", async () => {
        const outcome = await run([["kong.request.get_headers", 5000]], { headers });
        expect(outcome).to.include({ kind: "exit", source: "kong", status: 500 });
        expect(outcome.kind === "exit" && outcome.body.toString()).to.equal(UNEXPECTED_ERROR_BODY);
        expect(outcome.logs.map(({ message }) => message)).to.include("max_headers must be <= 1000");
      });
    });

    describe("body", () => {
      it("get_raw_body arrives as bytes (a Buffer), an empty body as an empty one", async () => {
        expect(await results([["kong.request.get_raw_body"]], { body: Buffer.from([0, 255, 1]) })).to.deep.equal([
          { bin: "AP8B", isBuffer: true },
        ]);
        expect(await results([["kong.request.get_raw_body"]])).to.deep.equal([{ bin: "", isBuffer: true }]);
      });

      it("a body over client_body_buffer_size is read only with a max that allows it", async () => {
        const body = Buffer.alloc(9000, 0x61);
        const withMax = await results([["kong.request.get_raw_body", 10_000], ["kong.request.get_raw_body", 0]], { body });
        expect(withMax.map((result) => Buffer.from(result.bin ?? "", "base64").length)).to.deep.equal([9000, 9000]);
        // A body that fits the buffer is in memory: max does not apply.
        const inMemory = await results([["kong.request.get_raw_body", 10]], { body: Buffer.alloc(8192, 0x61) });
        expect(Buffer.from(inMemory[0]?.bin ?? "", "base64").length).to.equal(8192);
      });

      it("a file-buffered body without a large enough max is nil, which Kong fails to pack: 500", async () => {
        const body = Buffer.alloc(9000, 0x61);
        for (const steps of [[["kong.request.get_raw_body"]], [["kong.request.get_raw_body", 8500]]] as EchoStep[][]) {
          const outcome = await run(steps, { body });
          expect(outcome).to.include({ kind: "exit", source: "kong", status: 500 });
        }
      });
    });

    describe("arguments and exits", () => {
      it("an Args array ends at its first undefined: exit(401, undefined, headers) loses the headers", async () => {
        const headers = { "WWW-Authenticate": 'Bearer realm="mcp"' };
        const truncated = await run([["kong.response.exit", 401, { $undefined: true }, headers]], {}, false);
        expect(truncated).to.deep.include({ kind: "exit", status: 401, headers: [["Content-Length", "0"]] });
        const complete = await run([["kong.response.exit", 401, "", headers]], {}, false);
        expect(complete).to.deep.include({ headers: [["WWW-Authenticate", 'Bearer realm="mcp"'], ["Content-Length", "0"]] });
      });

      it("after kong.response.exit Kong sends nothing more for the event", async () => {
        const outcome = await run([["kong.response.exit", 403, "no"], ["kong.log.err", "after exit"]], {}, false);
        expect(outcome).to.include({ kind: "exit", source: "plugin", status: 403 });
        expect(outcome.kind === "exit" && outcome.body.toString()).to.equal("no");
        expect(outcome.pdkCalls.map(({ method }) => method)).to.deep.equal(["kong.response.exit"]);
        expect(outcome.logs).to.deep.equal([]);
      });

      it("a table body is cjson-encoded: an empty array becomes {}", async () => {
        const outcome = await run([["kong.response.exit", 200, { scopes: [], url: "https://a/b" }]], {}, false);
        expect(outcome).to.deep.include({
          headers: [["Content-Type", "application/json; charset=utf-8"], ["Content-Length", "36"]],
        });
        expect(outcome.kind === "exit" && outcome.body.toString()).to.equal('{"scopes":{},"url":"https:\\/\\/a\\/b"}');
      });

      it("kong.response.error fills Kong's template with the request id", async () => {
        const outcome = await run([["kong.response.error", 403, "Forbidden"]], {}, false);
        expect(outcome.kind === "exit" && outcome.body.toString()).to.equal(
          `{\n  "message":"Forbidden",\n  "request_id":"${outcome.requestId}"\n}`,
        );
      });

      it("a method Kong does not expose is logged and answered with nil", async () => {
        const outcome = await run([["kong.request.get_everything"], ["kong.request.get_method"]]);
        expect(readEchoAnswer(outcome).results).to.deep.equal([{ absent: true }, { value: "POST" }]);
        expect(outcome.unknownPdkCalls).to.deep.equal(["kong.request.get_everything"]);
        expect(outcome.logs).to.deep.include({ level: "err", message: "could not find pdk method: kong.request.get_everything", source: "kong" });
      });
    });

    it("a real Kong PDK function the driver does not emulate fails the driver call loudly", async () => {
      let error: unknown;
      await run([["kong.response.set_header", "X-A", "1"]]).catch((caught: unknown) => (error = caught));
      expect(error).to.be.instanceOf(UnemulatedPdkMethodError);
      expect((error as Error).message).to.equal("kong.response.set_header is a Kong PDK function the driver does not emulate");
    });

    describe("request line", () => {
      it("get_path normalizes; raw path, query and path with query do not", async () => {
        const answer = await results(
          [
            ["kong.request.get_path"],
            ["kong.request.get_raw_path"],
            ["kong.request.get_raw_query"],
            ["kong.request.get_path_with_query"],
            ["kong.request.get_query"],
            ["kong.request.get_query_arg", "flag"],
          ],
          { path: "/mcp/%2e%2e/mcp//x?a=1&a=2&flag&b=hello%20world" },
        );
        expect(answer).to.deep.equal([
          { value: "/mcp/x" },
          { value: "/mcp/%2e%2e/mcp//x" },
          { value: "a=1&a=2&flag&b=hello%20world" },
          { value: "/mcp/%2e%2e/mcp//x?a=1&a=2&flag&b=hello%20world" },
          { value: { a: ["1", "2"], flag: [], b: ["hello world"] } },
          { value: true },
        ]);
      });

      it("scheme, host, port and forwarded values ignore X-Forwarded-* from an untrusted client", async () => {
        const answer = await results(
          [
            ["kong.request.get_scheme"],
            ["kong.request.get_host"],
            ["kong.request.get_port"],
            ["kong.request.get_forwarded_scheme"],
            ["kong.request.get_forwarded_host"],
            ["kong.request.get_forwarded_port"],
            ["kong.client.get_forwarded_ip"],
          ],
          {
            headers: [["Host", "MCP.example:8000"], ["X-Forwarded-Proto", "https"], ["X-Forwarded-Host", "evil.example"], ["X-Real-IP", "10.9.9.9"]],
            clientIp: "192.0.2.7",
          },
        );
        expect(answer.map(({ value }) => value)).to.deep.equal(["http", "mcp.example", 8000, "http", "mcp.example", 8000, "192.0.2.7"]);
      });
    });

    describe("context and upstream request", () => {
      it("ctx.shared values come back as set and mark the request verified", async () => {
        const identity = { subject: "alice", scopes: ["mcp:tools"] };
        const outcome = await run([["kong.ctx.shared.set", "mcp_oauth2", identity], ["kong.ctx.shared.get", "mcp_oauth2"]]);
        expect(readEchoAnswer(outcome).results[1]).to.deep.equal({ value: identity });
        expect(outcome.ctxShared).to.deep.equal({ mcp_oauth2: identity });
        expect(outcome.verified).to.equal(true);
      });

      it("service.request.set_header changes what later get_header calls read, as ngx.req.set_header does", async () => {
        const answer = await results(
          [["kong.service.request.set_header", "X-User", "alice"], ["kong.request.get_header", "x-user"]],
          { headers: [["X-User", "mallory"]] },
        );
        expect(answer[1]).to.deep.equal({ value: "alice" });
      });

      it("service.request header changes reach the upstream request", async () => {
        const outcome = await run(
          [
            ["kong.service.request.clear_header", "Authorization"],
            ["kong.service.request.set_header", "X-User", "alice"],
          ],
          { headers: [["Authorization", "Bearer secret"], ["Accept", "application/json"]] },
          false,
        );
        expect(outcome.kind).to.equal("proceed");
        if (outcome.kind !== "proceed") return;
        expect(outcome.upstreamRequest.headers.filter(([name]) => !name.startsWith("X-Forwarded") && !["Via", "X-Real-IP", "X-Kong-Request-Id"].includes(name)))
          .to.deep.equal([["Accept", "application/json"], ["X-User", "alice"]]);
        expect(outcome.verified).to.equal(false);
      });

      it("service.request.set_raw_body replaces the body sent upstream, under a Content-Length of its bytes (ngx.req.set_body_data)", async () => {
        const outcome = await run(
          [["kong.service.request.set_raw_body", '{"id":"é"}']],
          { body: '{"id":1}', headers: [["Content-Type", "application/json"], ["Content-Length", "8"]] },
          false,
        );
        if (outcome.kind !== "proceed") throw new Error(`expected to proceed, got ${outcome.kind}`);
        expect(outcome.upstreamRequest.body?.toString()).to.equal('{"id":"é"}');
        expect(outcome.upstreamRequest.headers.filter(([name]) => /^content-/i.test(name))).to.deep.equal([["Content-Type", "application/json"], ["Content-Length", "11"]]);
        await expectLuaError([["kong.service.request.set_raw_body", 7]], "body must be a string");
      });

      it("kong.log.* lines are recorded with their level", async () => {
        const outcome = await run([["kong.log.warn", "token ", "rejected"]], {}, false);
        expect(outcome.logs).to.deep.equal([{ level: "warn", message: "token rejected", source: "plugin" }]);
      });
    });

    describe("consumers (kong/pdk/client.lua)", () => {
      const ALICE = { id: "0b7e9c1a-3d2f-4e5a-8b6c-7d8e9f0a1b2c", username: "alice", custom_id: null, created_at: 1700000000, tags: ["mcp"] };
      const ALICE_AS_READ = { id: ALICE.id, username: "alice", created_at: 1700000000, tags: ["mcp"] };
      const CREDENTIAL = { id: "vscode", consumer_id: ALICE.id };

      before(() => fixture.driver.configureConsumers([ALICE]));
      after(() => fixture.driver.configureConsumers([]));

      it("load_consumer finds a UUID by id (any case), then with the flag by username; nil otherwise", async () => {
        expect(
          await results([
            ["kong.client.load_consumer", ALICE.id.toUpperCase()],
            ["kong.client.load_consumer", "alice", true],
            ["kong.client.load_consumer", ALICE.id, true],
            ["kong.client.load_consumer", "bob", true],
            ["kong.client.load_consumer", "7d8e9f0a-0b7e-4c1a-8d2f-3e5a8b6c1b2c"],
          ]),
        ).to.deep.equal([{ value: ALICE_AS_READ }, { value: ALICE_AS_READ }, { value: ALICE_AS_READ }, { absent: true }, { absent: true }]);
      });

      it("load_consumer raises for an id that is not a UUID without the username flag, and for a non-string", async () => {
        await expectLuaError([["kong.client.load_consumer", "alice"]], "cannot load a consumer with an id that is not a uuid");
        await expectLuaError([["kong.client.load_consumer", "alice", false]], "cannot load a consumer with an id that is not a uuid");
        await expectLuaError([["kong.client.load_consumer", 7, true]], "consumer_id must be a string");
      });

      it("authenticate keeps consumer and credential for get_consumer, get_credential and the plugins after", async () => {
        const outcome = await run([["kong.client.authenticate", ALICE_AS_READ, CREDENTIAL], ["kong.client.get_consumer"], ["kong.client.get_credential"]]);
        expect(readEchoAnswer(outcome).results.slice(1)).to.deep.equal([{ value: ALICE_AS_READ }, { value: CREDENTIAL }]);
        expect([outcome.consumer, outcome.credential]).to.deep.equal([ALICE_AS_READ, CREDENTIAL]);
        const anonymous = await results([["kong.client.authenticate", ALICE_AS_READ], ["kong.client.get_credential"]]);
        expect(anonymous[1]).to.deep.equal({ absent: true });
      });

      it("authenticate raises without a table, and for nil then a credential: Args end at the first nil", async () => {
        await expectLuaError([["kong.client.authenticate", "alice"]], "consumer must be a table or nil");
        await expectLuaError([["kong.client.authenticate", ALICE_AS_READ, "vscode"]], "credential must be a table or nil");
        await expectLuaError([["kong.client.authenticate", { $undefined: true }, CREDENTIAL]], "either credential or consumer must be provided");
      });

      it("a credential set in ngx.ctx is what get_credential returns", async () => {
        const answer = await results([["kong.nginx.set_ctx", "authenticated_credential", { id: "vscode" }], ["kong.client.get_credential"], ["kong.client.get_consumer"]]);
        expect(answer.slice(1)).to.deep.equal([{ value: { id: "vscode" } }, { absent: true }]);
      });
    });

    describe("kong.log.set_serialize_value (kong/pdk/log.lua)", () => {
      it("adds values for the log plugins: dotted keys make tables, add fills only what is missing, replace only what exists", async () => {
        const outcome = await run(
          [
            ["kong.log.set_serialize_value", "mcp_oauth2", { decision: "allowed", calls: [{ method: "tools/list" }] }],
            ["kong.log.set_serialize_value", "mcp_oauth2.decision", "refused", { mode: "add" }],
            ["kong.log.set_serialize_value", "extra.count", 1, { mode: "add" }],
            ["kong.log.set_serialize_value", "missing.value", 2, { mode: "replace" }],
          ],
          {},
          false,
        );
        expect(outcome.serialized).to.deep.equal({ mcp_oauth2: { decision: "allowed", calls: [{ method: "tools/list" }] }, extra: { count: 1 } });
      });

      it("raises for a key that is not a string and for an unknown mode", async () => {
        await expectLuaError([["kong.log.set_serialize_value", 1, "x"]], "key must be a string");
        await expectLuaError([["kong.log.set_serialize_value", "k", "x", { mode: "merge" }]], "mode must be 'set', 'add' or 'replace'");
      });
    });
  });
}

describe("PDK forwarded values from trusted_ips", () => {
  let fixture: DriverFixture;

  before(async () => {
    fixture = await startDriverFixture("ours", "echo", { trustedIps: ["10.0.0.0/8"] });
  });
  after(() => fixture?.close());

  it("X-Forwarded-Proto/Host/Port and X-Real-IP count only when the client is trusted", async () => {
    const steps: EchoStep[] = [
      ["kong.request.get_forwarded_scheme"],
      ["kong.request.get_forwarded_host"],
      ["kong.request.get_forwarded_port"],
      ["kong.client.get_forwarded_ip"],
      ["kong.client.get_ip"],
    ];
    routeToEcho(fixture.driver, steps);
    const headers: KongRequest["headers"] = [
      ["Host", "internal:8000"],
      ["X-Forwarded-Proto", "HTTPS"],
      ["X-Forwarded-Host", "user@mcp.example:8443"],
      ["X-Real-IP", "203.0.113.5"],
    ];
    const trusted = readEchoAnswer(await fixture.driver.handle({ method: "GET", path: "/", headers, clientIp: "10.1.2.3" }));
    expect(trusted.results.map(({ value }) => value)).to.deep.equal(["https", "mcp.example", 8443, "203.0.113.5", "10.1.2.3"]);
    const untrusted = readEchoAnswer(await fixture.driver.handle({ method: "GET", path: "/", headers, clientIp: "192.0.2.1" }));
    expect(untrusted.results.map(({ value }) => value)).to.deep.equal(["http", "internal", 8000, "192.0.2.1", "192.0.2.1"]);
  });

  it("a trusted X-Real-IP that is not an address is ignored by the PDK and upstream alike, as nginx's realip module does", async () => {
    const fromTrustedClient = (realIp: string): KongRequest => ({ method: "GET", path: "/", headers: [["X-Real-IP", realIp]], clientIp: "10.1.2.3" });
    const upstreamClientHeaders = async (realIp: string): Promise<KongRequest["headers"]> => {
      const outcome = await fixture.driver.handle(fromTrustedClient(realIp));
      if (outcome.kind !== "proceed") throw new Error(`expected a proxied request, got ${outcome.kind}`);
      return outcome.upstreamRequest.headers.filter(([name]) => name === "X-Forwarded-For" || name === "X-Real-IP");
    };

    routeToEcho(fixture.driver, [["kong.client.get_forwarded_ip"]]);
    expect(readEchoAnswer(await fixture.driver.handle(fromTrustedClient("unknown"))).results).to.deep.equal([{ value: "10.1.2.3" }]);
    routeToEcho(fixture.driver, [], { answer: false });
    expect(await upstreamClientHeaders("unknown")).to.deep.equal([["X-Forwarded-For", "10.1.2.3"], ["X-Real-IP", "10.1.2.3"]]);
    expect(await upstreamClientHeaders("203.0.113.5")).to.deep.equal([["X-Forwarded-For", "203.0.113.5"], ["X-Real-IP", "203.0.113.5"]]);
  });
});
