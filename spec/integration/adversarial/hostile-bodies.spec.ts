import { expect } from "chai";
import fc from "fast-check";
import type { HeaderList, Outcome } from "../../../kong/driver";
import { readResponseHeader, startGateDriver, summarizeOutcome, type GateDriver } from "../../support/gate-driver";
import { MCP_METADATA_URL, MCP_RESOURCE } from "../../support/gate-requests";
import { encodeFuzzedBody, FUZZ_SCOPE_METHOD_MAPPING, FUZZ_SCOPES, fuzzedRequestArbitrary, predictAnswer } from "../../support/json-rpc-body-fuzzing";
import { JwksServer } from "../../support/jwks-server";
import { TokenLedger } from "../../support/token-ledger";
import { createSigningKey, signAccessToken, type TestSigningKey } from "../../support/token-factory";

/** Fixed so that a failure reproduces; ADVERSARIAL_SEED explores others. */
const SEED = Number(process.env["ADVERSARIAL_SEED"] ?? 20260728);
const RUNS = 600;
const LARGE_BODY_LIMIT = 8 << 20;
/** Kong's client_body_buffer_size default, which the driver applies: larger bodies are buffered to a file. */
const CLIENT_BODY_BUFFER_SIZE = 8192;

describe("adversarial: hostile JSON-RPC bodies through Kong and the real plugin server", function () {
  this.timeout(120_000);
  const ledger = new TokenLedger();
  const tokens = new Map<string, string>();
  let jwks: JwksServer;
  let key: TestSigningKey;
  let gate: GateDriver;
  let serverPid: number | undefined;

  const aclConfig = (maxBodySize: number) => ({
    authorization_servers: [{ url: jwks.url, audience: MCP_RESOURCE }],
    resource: MCP_RESOURCE,
    scopes_supported: [...FUZZ_SCOPES],
    enable_acl: true,
    scope_method_mapping: FUZZ_SCOPE_METHOD_MAPPING.map(({ scope, methods }) => ({ scope, methods: [...methods] })),
    max_body_size: maxBodySize,
  });

  before(async () => {
    key = await createSigningKey("ES256", "bodies-key");
    jwks = await JwksServer.start([key.publicJwk]);
    // A call that outlives this is a hang: the driver then fails open, which the assertions catch.
    gate = await startGateDriver(aclConfig(LARGE_BODY_LIMIT), { callTimeoutMs: 10_000 });
    serverPid = gate.driver.serverPid;
  });

  after(async () => {
    await gate?.close();
    await jwks?.close();
  });

  async function tokenFor(scopes: readonly string[]): Promise<string> {
    const scope = [...scopes].sort().join(" ");
    let token = tokens.get(scope);
    if (token === undefined) {
      token = ledger.add(await signAccessToken(key, { issuer: jwks.url, audience: MCP_RESOURCE, claims: { sub: "mallory", scope } }));
      tokens.set(scope, token);
    }
    return token;
  }

  async function post(scopes: readonly string[] | undefined, body: string | Buffer, extraHeaders: HeaderList = [["Content-Type", "application/json"]]): Promise<Outcome> {
    const authorization: HeaderList = scopes === undefined ? [] : [["Authorization", `Bearer ${await tokenFor(scopes)}`]];
    return ledger.watch(await gate.send({ headers: [...authorization, ...extraHeaders], body }));
  }

  async function answerTo(scopes: readonly string[] | undefined, body: string | Buffer, extraHeaders?: HeaderList): Promise<string> {
    return summarizeOutcome(await post(scopes, body, extraHeaders));
  }

  const call = (method: string, params?: unknown) => JSON.stringify({ jsonrpc: "2.0", id: 1, method, ...(params === undefined ? {} : { params }) });

  it(`answers ${RUNS} fuzzed requests as the oracle predicts: no pass the ACL denies, no crash, no hang (seed ${SEED})`, async () => {
    console.log(`      fast-check seed ${SEED}, ${RUNS} runs (ADVERSARIAL_SEED=<n> to explore others)`);
    const tally = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fuzzedRequestArbitrary, async (request) => {
        const headers: HeaderList = request.contentType === undefined ? [] : [["Content-Type", request.contentType]];
        const outcome = await post(request.scopes, encodeFuzzedBody(request), headers);
        const answer = summarizeOutcome(outcome);
        tally.set(answer, (tally.get(answer) ?? 0) + 1);
        expect(outcome.failOpen).to.equal(undefined);
        expect(answer).to.equal(predictAnswer(request));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    console.log(`      answers: ${[...tally].map(([answer, count]) => `${count} × ${answer}`).join(", ")}`);
    // The generators reach every verdict, or the property says little.
    expect([...tally.keys()]).to.include.members(["proceed", "403 insufficient_scope from plugin", "400 jsonrpc -32600 from plugin", "400 jsonrpc -32700 from plugin", "401 unauthorized from plugin", "415 unsupported_media_type from plugin"]);
    expect(gate.driver.serverPid).to.equal(serverPid);
  });

  it("judges a method by its decoded name: case variants and look-alikes are other methods, escapes are the same method", async () => {
    const weather = ["mcp:weather"];
    const answers = {
      "Tools/Call": await answerTo(weather, call("Tools/Call", { name: "weather_today" })),
      "tools\\/call": await answerTo(weather, '{"jsonrpc":"2.0","id":1,"method":"tools\\/call","params":{"name":"weather_today"}}'),
      "\\u-escaped tools/call, denied item": await answerTo(weather, '{"jsonrpc":"2.0","id":1,"method":"\\u0074ools/call","params":{"name":"delete_\\u0065verything"}}'),
      "\\u-escaped member name": await answerTo(weather, '{"jsonrpc":"2.0","id":1,"\\u006dethod":"tools/call","params":{"name":"delete_everything"}}'),
      "duplicate method": await answerTo(weather, '{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"ping","params":{"name":"weather_today"}}'),
      "duplicate method, one escaped": await answerTo(weather, '{"jsonrpc":"2.0","id":1,"method":"tools/call","\\u006dethod":"tools/list","params":{"name":"weather_today"}}'),
      "duplicate params.name": await answerTo(weather, '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_today","name":"delete_everything"}}'),
      "method inside params": await answerTo(["mcp:basic"], call("tools/call", { method: "ping", name: "delete_everything" })),
      "__proto__ carrying a method": await answerTo(["mcp:admin"], '{"jsonrpc":"2.0","id":1,"__proto__":{"method":"ping"}}'),
      "constructor carrying a method": await answerTo(["mcp:admin"], '{"jsonrpc":"2.0","id":1,"constructor":{"method":"ping"}}'),
      "__proto__ params": await answerTo(weather, '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"__proto__":{"name":"weather_today"}}}'),
    };
    expect(answers).to.deep.equal({
      "Tools/Call": "403 insufficient_scope from plugin",
      "tools\\/call": "proceed",
      "\\u-escaped tools/call, denied item": "403 insufficient_scope from plugin",
      "\\u-escaped member name": "403 insufficient_scope from plugin",
      "duplicate method": "400 jsonrpc -32600 from plugin",
      "duplicate method, one escaped": "400 jsonrpc -32600 from plugin",
      "duplicate params.name": "400 jsonrpc -32600 from plugin",
      "method inside params": "403 insufficient_scope from plugin",
      "__proto__ carrying a method": "400 jsonrpc -32600 from plugin",
      "constructor carrying a method": "400 jsonrpc -32600 from plugin",
      "__proto__ params": "403 insufficient_scope from plugin",
    });
  });

  it("refuses nesting deeper than 128 levels anywhere in the body, up to 100,000 levels, without exhausting a stack", async () => {
    const depth = 100_000;
    const nestedArrays = `${"[".repeat(depth)}${"]".repeat(depth)}`;
    expect(await answerTo(["mcp:basic"], call("tools/list", { cursor: "RAW" }).replace('"RAW"', nestedArrays))).to.equal("400 jsonrpc -32600 from plugin");
    const deepest = `${"[".repeat(126)}${"]".repeat(126)}`;
    expect(await answerTo(["mcp:basic"], call("tools/list", { cursor: "RAW" }).replace('"RAW"', deepest))).to.equal("proceed");
    expect(await answerTo(["mcp:basic"], call("tools/list", { cursor: "RAW" }).replace('"RAW"', `[${deepest}]`))).to.equal("400 jsonrpc -32600 from plugin");
    expect(await answerTo(["mcp:basic"], nestedArrays)).to.equal("400 jsonrpc -32600 from plugin");
    expect(await answerTo(["mcp:basic"], `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`)).to.equal("400 jsonrpc -32600 from plugin");
    expect(await answerTo(undefined, call("tools/call", { name: "RAW" }).replace('"RAW"', nestedArrays))).to.equal("401 unauthorized from plugin");
    expect(gate.driver.serverPid).to.equal(serverPid);
  });

  it("answers batches of 100,000 calls and params of a million elements", async () => {
    const notifications = Array.from({ length: 100_000 }, (_, index) => `{"jsonrpc":"2.0","method":"notifications/n${index}"}`);
    expect(await answerTo(["mcp:basic"], `[${notifications.join(",")}]`)).to.equal("proceed");
    const withDenied = `[${notifications.join(",")},${call("tools/call", { name: "delete_everything" })}]`;
    const denied = await post(["mcp:basic"], withDenied);
    expect(summarizeOutcome(denied)).to.equal("403 insufficient_scope from plugin");
    expect(readResponseHeader(denied, "WWW-Authenticate")).to.contain('scope="mcp:admin mcp:basic"');
    // Over 16 KiB: a request without a token is not read to choose the challenge's scope.
    const unauthenticated = await post(undefined, `[${notifications.join(",")},${call("resources/list")}]`);
    expect(readResponseHeader(unauthenticated, "WWW-Authenticate")).to.equal(`Bearer scope="${FUZZ_SCOPES.join(" ")}", resource_metadata="${MCP_METADATA_URL}"`);
    expect(await answerTo(["mcp:basic"], call("tools/list", { cursor: new Array(1_000_000).fill(0) }))).to.equal("proceed");
    expect(gate.driver.serverPid).to.equal(serverPid);
  });

  it("matches item globs in linear time: a megabyte of slashes against file://*/*.md is answered, with or without a token", async () => {
    const uri = `file://${"/".repeat(1 << 20)}`;
    expect(await answerTo(undefined, call("resources/read", { uri }))).to.equal("401 unauthorized from plugin");
    expect(await answerTo(["mcp:docs"], call("resources/read", { uri }))).to.equal("403 insufficient_scope from plugin");
    expect(await answerTo(["mcp:docs"], call("resources/read", { uri: `${uri}x.md` }))).to.equal("proceed");
  });

  it("refuses non-JSON media types (415) after authentication (401 first)", async () => {
    const body = call("tools/list");
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "application/json-seq", "text/json"]) {
      expect(await answerTo(["mcp:admin"], body, [["Content-Type", contentType]]), contentType).to.equal("415 unsupported_media_type from plugin");
      expect(await answerTo(undefined, body, [["Content-Type", contentType]]), contentType).to.equal("401 unauthorized from plugin");
    }
    expect(await answerTo(["mcp:admin"], body, [])).to.equal("415 unsupported_media_type from plugin");
    expect(await answerTo(["mcp:admin"], body, [["Content-Type", "application/json"], ["Content-Type", "text/plain"]])).to.equal("400 invalid_request from plugin");
  });

  it("refuses an empty or blank body, except on the methods that carry none (GET, HEAD, DELETE, OPTIONS)", async () => {
    expect(await answerTo(["mcp:admin"], "")).to.equal("400 jsonrpc -32600 from plugin");
    expect(await answerTo(["mcp:admin"], "", [])).to.equal("400 jsonrpc -32600 from plugin");
    expect(await answerTo(["mcp:admin"], " \r\n\t")).to.equal("400 jsonrpc -32700 from plugin");
    expect(await answerTo(undefined, "")).to.equal("401 unauthorized from plugin");
    const answers: Record<string, string> = {};
    for (const method of ["GET", "HEAD", "DELETE", "OPTIONS", "PUT", "PATCH", "PROPFIND", "TRACE", "BREW"]) {
      answers[method] = summarizeOutcome(ledger.watch(await gate.send({ method, headers: [["Authorization", `Bearer ${await tokenFor(["mcp:basic"])}`]] })));
    }
    const refused = "400 jsonrpc -32600 from plugin";
    expect(answers).to.deep.equal({ GET: "proceed", HEAD: "proceed", DELETE: "proceed", OPTIONS: "proceed", PUT: refused, PATCH: refused, PROPFIND: refused, TRACE: refused, BREW: refused });
  });

  /** A valid tools/list call padded with spaces to exactly `size` bytes. */
  const paddedCall = (size: number) => {
    const text = call("tools/list");
    return text + " ".repeat(size - text.length);
  };
  const withLength = (size: number): HeaderList => [["Content-Type", "application/json"], ["Content-Length", String(size)]];

  it("below client_body_buffer_size (Kong keeps the body in memory): at the limit passes, one byte over is 413, with or without Content-Length", async () => {
    const limit = 4096;
    gate.configure(aclConfig(limit));
    expect(await answerTo(["mcp:basic"], paddedCall(limit))).to.equal("proceed");
    expect(await answerTo(["mcp:basic"], paddedCall(limit), withLength(limit))).to.equal("proceed");
    expect(await answerTo(["mcp:basic"], paddedCall(limit + 1))).to.equal("413 request_too_large from plugin");
    const declared = await post(["mcp:basic"], paddedCall(limit + 1), withLength(limit + 1));
    expect(summarizeOutcome(declared)).to.equal("413 request_too_large from plugin");
    expect(declared.pdkCalls.map((pdkCall) => pdkCall.method)).not.to.include("kong.request.get_raw_body");
    expect(await answerTo(["mcp:basic"], paddedCall(limit + 1), withLength(10))).to.equal("413 request_too_large from plugin");
  });

  it("above client_body_buffer_size (Kong buffers to a file): one byte over is 413 with Content-Length, Kong's 500 without it, never a pass", async () => {
    const limit = 2 * CLIENT_BODY_BUFFER_SIZE;
    gate.configure(aclConfig(limit));
    expect(await answerTo(["mcp:basic"], paddedCall(limit))).to.equal("proceed");
    expect(await answerTo(["mcp:basic"], paddedCall(limit), withLength(limit))).to.equal("proceed");
    expect(await answerTo(["mcp:basic"], paddedCall(limit + 1), withLength(limit + 1))).to.equal("413 request_too_large from plugin");
    // get_raw_body(max) cannot read a file-buffered body over max, and Kong's bridge fails packing its nil.
    const chunked = await post(["mcp:basic"], paddedCall(limit + 1));
    expect(summarizeOutcome(chunked)).to.equal("500 no error code from kong");
    expect(chunked.verified).to.equal(false);
  });

  it("kept the same plugin server, and logs no token and echoes none in any answer", () => {
    expect(gate.driver.serverPid).to.equal(serverPid);
    expect(ledger.findLeaksIn(gate.driver)).to.deep.equal([]);
  });
});
