import { expect } from "chai";
import type { HeaderList } from "../../../kong/driver";
import { startGateDriver, summarizeOutcome, type GateDriver } from "../../support/gate-driver";
import { formatJsonRpc, MCP_RESOURCE } from "../../support/gate-requests";
import { JwksServer } from "../../support/jwks-server";
import { TokenLedger } from "../../support/token-ledger";
import { createSigningKey, signAccessToken, type TestSigningKey } from "../../support/token-factory";

/** Kong's get_headers limit the plugin asks for: fields beyond it are invisible to the plugin. */
const MAX_VISIBLE_HEADERS = 1000;

describe("adversarial: hostile request headers through Kong and the real plugin server", function () {
  this.timeout(30_000);
  const ledger = new TokenLedger();
  let jwks: JwksServer;
  let key: TestSigningKey;
  let gate: GateDriver;
  let token: string;
  let otherToken: string;
  let serverPid: number | undefined;
  const baseConfig = (jwksUrl: string) => ({
    authorization_servers: [{ url: jwksUrl, audience: MCP_RESOURCE }],
    resource: MCP_RESOURCE,
    upstream_headers: [{ header: "X-MCP-Subject", claim: "sub" }],
  });

  before(async () => {
    key = await createSigningKey("RS256", "headers-key");
    jwks = await JwksServer.start([key.publicJwk]);
    gate = await startGateDriver(baseConfig(jwks.url));
    serverPid = gate.driver.serverPid;
    token = ledger.add(await signAccessToken(key, { issuer: jwks.url, audience: MCP_RESOURCE, claims: { sub: "alice" } }));
    otherToken = ledger.add(await signAccessToken(key, { issuer: jwks.url, audience: MCP_RESOURCE, claims: { sub: "bob" } }));
  });

  after(async () => {
    await gate?.close();
    await jwks?.close();
  });

  async function answerTo(headers: HeaderList, path = "/mcp") {
    return ledger.watch(await gate.send({ method: "GET", path, headers }));
  }

  async function summarize(headers: HeaderList, path?: string): Promise<string> {
    return summarizeOutcome(await answerTo(headers, path));
  }

  it("accepts the scheme in any case, separated from the token by one or more spaces (RFC 6750 §2.1, RFC 9110 §11.1)", async () => {
    for (const value of [`Bearer ${token}`, `bearer ${token}`, `BEARER ${token}`, `bEaReR ${token}`, `Bearer    ${token}`]) {
      expect(await summarize([["Authorization", value]]), value.slice(0, 12)).to.equal("proceed");
    }
  });

  it("refuses a token header sent twice, whatever the case of the names or the schemes (400 invalid_request)", async () => {
    for (const headers of [
      [["Authorization", `Bearer ${token}`], ["Authorization", `Bearer ${token}`]],
      [["Authorization", `Bearer ${token}`], ["authorization", `Bearer ${otherToken}`]],
      [["AUTHORIZATION", `Bearer ${token}`], ["Authorization", "Basic dXNlcjpwYXNz"]],
      [["Authorization", "Basic dXNlcjpwYXNz"], ["Authorization", `Bearer ${token}`]],
    ] as HeaderList[]) {
      expect(await summarize(headers)).to.equal("400 invalid_request from plugin");
    }
  });

  it("refuses tabs and stray characters around the token (400), and treats other schemes as no token (401)", async () => {
    for (const value of [`Bearer\t${token}`, `Bearer \t${token}`, `Bearer ${token}\t`, `Bearer ${token} `, "Bearer", "Bearer ", `Bearer,${token}`, `Bearer ${token} ${otherToken}`]) {
      expect(await summarize([["Authorization", value]]), JSON.stringify(value.slice(0, 10))).to.equal("400 invalid_request from plugin");
    }
    for (const value of [`Token ${token}`, `Bearer-${token}`, `${token}`, `Basic ${token}`, `\tBearer ${token}`]) {
      expect(await summarize([["Authorization", value]]), JSON.stringify(value.slice(0, 10))).to.equal("401 unauthorized from plugin");
    }
  });

  it("ignores a token in the query string or a form body (RFC 6750 §2.2-2.3 are not offered): 401 without an error code", async () => {
    expect(await summarize([], `/mcp?access_token=${token}`)).to.equal("401 unauthorized from plugin");
    const form = ledger.watch(await gate.send({ path: "/mcp", headers: [["Content-Type", "application/x-www-form-urlencoded"]], body: `access_token=${token}` }));
    expect(summarizeOutcome(form)).to.equal("401 unauthorized from plugin");
  });

  it("answers very long header values without crashing: 400 for a 1 MiB credential, a pass for a valid token next to a 1 MiB header", async () => {
    expect(await summarize([["Authorization", `Bearer ${"A".repeat(1 << 20)}!`]])).to.equal("400 invalid_request from plugin");
    expect(await summarize([["Authorization", `Bearer ${"A".repeat(1 << 20)}`]])).to.equal("401 invalid_token from plugin");
    expect(await summarize([["Authorization", `Bearer ${token}`], ["X-Padding", "x".repeat(1 << 20)]])).to.equal("proceed");
    expect(gate.driver.serverPid).to.equal(serverPid);
  });

  it("refuses non-ASCII bytes in the credential (400) and passes them in other headers", async () => {
    for (const bytes of ["\xe9", "\xff\xfe", "\xc3\xa9", "\x80"]) {
      expect(await summarize([["Authorization", `Bearer ${token}${bytes}`]])).to.equal("400 invalid_request from plugin");
      expect(await summarize([["Authorization", `Bearer ${bytes}${token}`]])).to.equal("400 invalid_request from plugin");
      expect(await summarize([["Authorization", `Bearer ${token}`], ["X-Note", `caf${bytes}`]])).to.equal("proceed");
    }
  });

  it("never lets an underscored header spoof an identity header or reach the upstream (nginx drops them)", async () => {
    const outcome = await answerTo([["X_MCP_Subject", "admin"], ["Authorization", `Bearer ${token}`], ["X-MCP_Subject", "root"]]);
    expect(summarizeOutcome(outcome)).to.equal("proceed");
    if (outcome.kind !== "proceed") return;
    const forwarded = outcome.upstreamRequest.headers.filter(([name]) => /mcp.subject|authorization/i.test(name));
    expect(forwarded).to.deep.equal([["X-MCP-Subject", "alice"]]);
  });

  const padding = (count: number): HeaderList => Array.from({ length: count }, (_, index) => [`X-Pad-${index}`, "x"]);

  it("still sees a token within the first 1000 fields (Kong's get_headers limit)", async () => {
    expect(await summarize([...padding(MAX_VISIBLE_HEADERS - 2), ["Authorization", `Bearer ${token}`]])).to.equal("proceed");
  });

  it("refuses a request with fields the plugin cannot see: a hidden second token would reach a forwarding upstream", async () => {
    gate.configure({ ...baseConfig(jwks.url), forward_authorization_header: true });
    try {
      const outcome = await answerTo([["Authorization", `Bearer ${token}`], ...padding(MAX_VISIBLE_HEADERS), ["Authorization", `Bearer ${otherToken}`]]);
      expect(summarizeOutcome(outcome)).to.equal("400 invalid_request from plugin");
    } finally {
      gate.configure(baseConfig(jwks.url));
    }
  });

  it("refuses a hidden Mcp-Method that contradicts the body", async () => {
    const body = formatJsonRpc("tools/call", { name: "delete_everything" });
    const headers: HeaderList = [["Authorization", `Bearer ${token}`], ["Content-Type", "application/json"], ["Mcp-Name", "delete_everything"]];
    const visible = ledger.watch(await gate.send({ headers: [...headers, ["Mcp-Method", "tools/list"]], body }));
    expect(summarizeOutcome(visible)).to.equal("400 jsonrpc -32020 from plugin");
    const hidden = ledger.watch(await gate.send({ headers: [...headers, ...padding(MAX_VISIBLE_HEADERS), ["Mcp-Method", "tools/list"]], body }));
    expect(summarizeOutcome(hidden)).to.equal("400 invalid_request from plugin");
  });

  it("kept the same plugin server, and logs no token and echoes none in any answer", () => {
    expect(gate.driver.serverPid).to.equal(serverPid);
    expect(ledger.findLeaksIn(gate.driver)).to.deep.equal([]);
  });
});
