// Requests to mcp-oauth2 through the Kong driver, and the answers as a client or the upstream sees
// them. Every request goes through sendThroughGate, which checks the invariant of the suites.
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import type { ExitOutcome, HeaderList, KongDriver, KongRequest, Outcome, PluginServerImplementation, ProceedOutcome } from "../../kong/driver";
import { JwksServer } from "./jwks-server";
import { startBuiltPluginDriver, type BuiltPluginDriverOptions } from "./plugin-server-fixture";
import { createSigningKey, createTokenIssuer, type TestSigningKey, type TokenOptions } from "./token-factory";

/** The public MCP URL the gate is configured for (`resource`) and the audience tokens carry. */
export const MCP_RESOURCE = "https://mcp.example.com/mcp";
export const MCP_METADATA_URL = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";

/** Routes `/mcp` and the metadata path through mcp-oauth2 with `config`; Kong fills the defaults. */
export function routeThroughGate(driver: KongDriver, config: Record<string, unknown>, upstream?: string): void {
  driver.configureRoutes([
    {
      id: "mcp",
      paths: ["/mcp", "/.well-known/oauth-protected-resource"],
      ...(upstream === undefined ? {} : { upstream }),
      stripPath: false,
      plugins: [{ id: "mcp-oauth2", config }],
    },
  ]);
}

/**
 * Sends a request through Kong's side of the protocol to the real plugin server and checks what
 * must hold for every request: Kong did not fail open, the plugin called only PDK functions Kong
 * has, and nothing is proxied that the plugin did not mark as verified (ctx.shared.mcp_oauth2).
 */
export async function sendThroughGate(driver: KongDriver, request: KongRequest): Promise<Outcome> {
  const outcome = await driver.handle(request);
  expect(outcome.failOpen, "Kong failed open").to.equal(undefined);
  expect(outcome.unknownPdkCalls).to.deep.equal([]);
  if (outcome.kind === "proceed") expect(outcome.verified, "proxied without ctx.shared.mcp_oauth2").to.equal(true);
  return outcome;
}

/** Sends a tools/list call through the gate, with `Authorization: Bearer <token>` when a token is given. */
export function sendToolsList(driver: KongDriver, token: string | undefined): Promise<Outcome> {
  return sendThroughGate(driver, postToMcp(token, formatJsonRpc("tools/list")));
}

/**
 * Sends tools/list with `token` until it is no longer proxied (a cached verdict lapsed), at most
 * 100 times 100 ms apart: a bounded wait that asserts no timing, only the answer after it.
 */
export async function sendUntilRefused(driver: KongDriver, token: string): Promise<Outcome> {
  let outcome = await sendToolsList(driver, token);
  for (let attempt = 0; outcome.kind === "proceed" && attempt < 100; attempt++) {
    await sleep(100);
    outcome = await sendToolsList(driver, token);
  }
  return outcome;
}

/** Expects the plugin's 401 invalid_token answer with `description` (RFC 6750 §3.1). */
export function expectRefusedToken(outcome: Outcome, description: string): void {
  const answer = readAnswer(outcome);
  expect(answer.status).to.equal(401);
  expect(answer.body).to.deep.equal({ error: "invalid_token", error_description: description });
}

/** The plugin's own answer (kong.response.exit), or a failed expectation. */
function expectPluginAnswer(outcome: Outcome): ExitOutcome {
  if (outcome.kind !== "exit" || outcome.source !== "plugin") {
    expect.fail(`expected the plugin to answer, got ${outcome.kind === "exit" ? `an exit from ${outcome.source} (${outcome.status})` : "a proxied request"}`);
  }
  return outcome;
}

/** The proxied request, or a failed expectation naming the answer instead. */
export function expectProxied(outcome: Outcome): ProceedOutcome {
  if (outcome.kind !== "proceed") {
    expect.fail(`expected the request to be proxied, got ${outcome.status} from ${outcome.source}: ${outcome.body.toString("utf8")}`);
  }
  return outcome;
}

/** The plugin's answer as a client reads it: status, headers by lower-case name, the parsed JSON body. */
export function readAnswer(outcome: Outcome): { status: number; headers: Record<string, string>; body: unknown } {
  const answer = expectPluginAnswer(outcome);
  const headers: Record<string, string> = {};
  for (const [name, value] of answer.headers) {
    expect(headers, `header ${name} sent twice`).not.to.have.property(name.toLowerCase());
    headers[name.toLowerCase()] = value;
  }
  return { status: answer.status, headers, body: JSON.parse(answer.body.toString("utf8")) };
}

/** The headers of an answer with a JSON body of `body` and nothing else but `extra`. */
export function jsonAnswerHeaders(body: unknown, extra: Record<string, string> = {}): Record<string, string> {
  return { "content-type": "application/json", ...extra, "content-length": String(Buffer.byteLength(JSON.stringify(body))) };
}

/** The PDK functions the plugin called, in order: under Kong each is a socket round trip. */
export function listPdkMethods(outcome: Outcome): string[] {
  return outcome.pdkCalls.map((call) => call.method);
}

/** Every value of a header (case-insensitive name). */
export function findHeaderValues(headers: HeaderList, name: string): string[] {
  return headers.filter(([candidate]) => candidate.toLowerCase() === name.toLowerCase()).map(([, value]) => value);
}

/** A JSON-RPC request (or, without an id, a notification) as MCP clients post it. */
export function formatJsonRpc(method: string, params: Record<string, unknown> = {}, id: number | undefined = 1): string {
  return JSON.stringify({ jsonrpc: "2.0", ...(id === undefined ? {} : { id }), method, params });
}

/** A tools/call request for the tool `name`, with no arguments. */
export function formatToolCall(name: string): string {
  return formatJsonRpc("tools/call", { name, arguments: {} });
}

/**
 * A POST to /mcp of `body` as JSON with its Content-Length (unless `extraHeaders` declares one), as
 * MCP clients send it, and `Authorization: Bearer <token>` when a token is given.
 */
export function postToMcp(token: string | undefined, body: string | Buffer, extraHeaders: HeaderList = []): KongRequest {
  const authorization: HeaderList = token === undefined ? [] : [["Authorization", `Bearer ${token}`]];
  const declaresLength = extraHeaders.some(([name]) => name.toLowerCase() === "content-length");
  const length: HeaderList = declaresLength ? [] : [["Content-Length", String(Buffer.byteLength(body))]];
  return { method: "POST", path: "/mcp", headers: [...authorization, ["Content-Type", "application/json"], ...length, ...extraHeaders], body };
}

/** The same request as a chunked upload: no Content-Length. */
export function withoutContentLength(request: KongRequest): KongRequest {
  return { ...request, headers: request.headers?.filter(([name]) => name.toLowerCase() !== "content-length") };
}

/** The built plugin on a real plugin server, and the one authorization server it trusts. */
export interface GateFixture {
  readonly driver: KongDriver;
  /** The authorization server's JWKS endpoint on 127.0.0.1, publishing its key. */
  readonly jwks: JwksServer;
  /** Distinct tokens of that server for MCP_RESOURCE. */
  readonly issueToken: (overrides?: Partial<TokenOptions>) => Promise<string>;
  /** authorization_servers naming that server (audience MCP_RESOURCE) and resource MCP_RESOURCE. */
  readonly baseConfig: Readonly<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface GateFixtureOptions {
  /** The authorization server's signing key (default: a new ES256 key). */
  readonly key?: TestSigningKey;
  /** What every token carries unless overridden (default: audience MCP_RESOURCE). */
  readonly tokens?: Partial<Omit<TokenOptions, "issuer">>;
  readonly driverOptions?: BuiltPluginDriverOptions;
}

/** Starts a JWKS server and a driver on `implementation` serving the built mcp-oauth2. */
export async function startGateFixture(implementation: PluginServerImplementation, options: GateFixtureOptions = {}): Promise<GateFixture> {
  const key = options.key ?? (await createSigningKey("ES256"));
  const jwks = await JwksServer.start([key.publicJwk]);
  let driver: Awaited<ReturnType<typeof startBuiltPluginDriver>>;
  try {
    driver = await startBuiltPluginDriver(implementation, options.driverOptions);
  } catch (error) {
    await jwks.close();
    throw error;
  }
  return {
    driver: driver.driver,
    jwks,
    issueToken: createTokenIssuer(key, { issuer: jwks.url, audience: MCP_RESOURCE, ...options.tokens }),
    baseConfig: { authorization_servers: [{ url: jwks.url, audience: MCP_RESOURCE }], resource: MCP_RESOURCE },
    close: async () => {
      await driver.close();
      await jwks.close();
    },
  };
}

/** An authorization server of one test: a fresh JWKS URL, so the plugin server knows nothing of it yet. */
export interface TestIssuer {
  readonly jwks: JwksServer;
  /** A distinct token for MCP_RESOURCE under this issuer's name, signed by `signer`. */
  issue(signer: TestSigningKey, overrides?: Partial<TokenOptions>): Promise<string>;
}

/** Starts a JWKS server publishing `published`, and the issuer it stands for. */
export async function startTestIssuer(published: readonly TestSigningKey[]): Promise<TestIssuer> {
  const jwks = await JwksServer.start(published.map((key) => key.publicJwk));
  return { jwks, issue: (signer, overrides) => createTokenIssuer(signer, { issuer: jwks.url, audience: MCP_RESOURCE })(overrides) };
}

/** Routes through the gate trusting `issuers` (audience MCP_RESOURCE), with `resource` MCP_RESOURCE and `settings`. */
export function routeToIssuers(driver: KongDriver, issuers: readonly TestIssuer[], settings: Record<string, unknown> = {}): void {
  routeThroughGate(driver, {
    authorization_servers: issuers.map(({ jwks }) => ({ url: jwks.url, audience: MCP_RESOURCE })),
    resource: MCP_RESOURCE,
    ...settings,
  });
}
