import { expect } from "chai";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { KongGateway, RouteDefinition } from "../../../kong/driver";
import { startDriverFixture, type DriverFixture } from "../../support/plugin-server-fixture";
import { echoConfig } from "../../support/test-plugins";

interface ReceivedUpstreamRequest {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: string;
}

/** An upstream that records requests; /base/events answers an SSE stream paced by the test. */
class RecordingUpstream {
  readonly requests: ReceivedUpstreamRequest[] = [];
  private readonly server: Server;
  private releaseSecondEvent: () => void = () => undefined;

  constructor() {
    this.server = createServer((request, response) => {
      if (request.url === "/base/events") {
        response.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
        response.write("event: message\ndata: first\n\n");
        new Promise<void>((resolve) => (this.releaseSecondEvent = resolve)).then(() => response.end("event: message\ndata: second\n\n"));
        return;
      }
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const headers: Array<[string, string]> = [];
        for (let index = 0; index < request.rawHeaders.length; index += 2) {
          headers.push([request.rawHeaders[index] as string, request.rawHeaders[index + 1] as string]);
        }
        this.requests.push({ method: request.method ?? "", url: request.url ?? "", headers, body: Buffer.concat(chunks).toString() });
        response.writeHead(201, { "Content-Type": "application/json", "X-Upstream": "yes" });
        response.end('{"ok":true}');
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  sendSecondEvent(): void {
    this.releaseSecondEvent();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe("the driver's gateway (a small local Kong over HTTP)", () => {
  let fixture: DriverFixture;
  let upstream: RecordingUpstream;
  let gateway: KongGateway;

  before(async () => {
    upstream = new RecordingUpstream();
    await upstream.listen();
    fixture = await startDriverFixture("ours", "echo");
    const routes: RouteDefinition[] = [
      {
        id: "mcp",
        paths: ["/mcp"],
        upstream: `${upstream.url}/base`,
        plugins: [
          {
            id: "verifying",
            config: echoConfig(
              [
                ["kong.service.request.clear_header", "Authorization"],
                ["kong.service.request.set_header", "X-User", "alice"],
                ["kong.ctx.shared.set", "mcp_oauth2", { subject: "alice" }],
              ],
              { answer: false },
            ),
          },
        ],
      },
      {
        id: "rejecting",
        paths: ["/private"],
        upstream: upstream.url,
        plugins: [{ id: "rejecting", config: echoConfig([["kong.response.exit", 401, "", { "WWW-Authenticate": "Bearer" }]], { answer: false }) }],
      },
      {
        id: "reading",
        paths: ["/read"],
        upstream: upstream.url,
        plugins: [{ id: "reading", config: echoConfig([["kong.request.get_raw_body", 0]], { answer: false }) }],
      },
      { id: "down", paths: ["/down"], upstream: "http://127.0.0.1:9" },
    ];
    gateway = await fixture.driver.listen({ routes });
  });

  after(async () => {
    await gateway?.close();
    await fixture?.close();
    await upstream?.close();
  });

  it("proxies with the plugin's header changes and Kong's Host, Via, X-Forwarded-* and X-Real-IP", async () => {
    const response = await fetch(`${gateway.url}/mcp/tools?cursor=1`, {
      method: "POST",
      headers: { Authorization: "Bearer secret", "Content-Type": "application/json", "X-Forwarded-For": "198.51.100.1" },
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
    });
    expect(response.status).to.equal(201);
    expect(response.headers.get("x-upstream")).to.equal("yes");
    expect(await response.text()).to.equal('{"ok":true}');
    const received = upstream.requests.at(-1);
    expect(received).to.deep.include({ method: "POST", url: "/base/tools?cursor=1", body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' });
    const headers = new Map(received?.headers.map(([name, value]) => [name.toLowerCase(), value]));
    expect(headers.has("authorization")).to.equal(false);
    expect(Object.fromEntries([...headers].filter(([name]) => name !== "x-kong-request-id"))).to.include({
      "x-user": "alice",
      host: new URL(upstream.url).host,
      via: "1.1 kong/3.9.1",
      "x-forwarded-for": "198.51.100.1, 127.0.0.1",
      "x-forwarded-proto": "http",
      "x-forwarded-host": "127.0.0.1",
      "x-forwarded-port": String(gateway.port),
      "x-forwarded-path": "/mcp/tools",
      "x-forwarded-prefix": "/mcp",
      "x-real-ip": "127.0.0.1",
    });
    expect(headers.get("x-kong-request-id")).to.match(/^[0-9a-f]{32}$/);
  });

  it("proxies a body the plugin has read, unchanged", async () => {
    const body = "x".repeat(20_000);
    const response = await fetch(`${gateway.url}/read`, { method: "POST", body });
    expect(response.status).to.equal(201);
    expect(upstream.requests.at(-1)).to.deep.include({ url: "/", body });
  });

  it("answers the plugin's exit exactly, and HEAD without a body", async () => {
    const response = await fetch(`${gateway.url}/private`);
    expect(response.status).to.equal(401);
    expect(response.headers.get("www-authenticate")).to.equal("Bearer");
    expect(await response.text()).to.equal("");
    const head = await fetch(`${gateway.url}/private`, { method: "HEAD" });
    expect([head.status, head.headers.get("content-length")]).to.deep.equal([401, "0"]);
  });

  it("answers 404 like Kong when no route matches", async () => {
    const response = await fetch(`${gateway.url}/elsewhere`);
    expect(response.status).to.equal(404);
    expect((await response.json()) as object).to.include({ message: "no Route matched with those values" });
  });

  it("answers 502 like Kong when the upstream refuses the connection", async () => {
    const response = await fetch(`${gateway.url}/down`);
    expect(response.status).to.equal(502);
    expect((await response.json()) as object).to.include({ message: "An invalid response was received from the upstream server" });
  });

  it("streams an SSE response event by event", async () => {
    const response = await new Promise<IncomingMessage>((resolve, reject) =>
      httpRequest(`${gateway.url}/mcp/events`, { headers: { Accept: "text/event-stream" } }, resolve).on("error", reject).end(),
    );
    expect(response.headers["content-type"]).to.equal("text/event-stream");
    const chunks = response[Symbol.asyncIterator]();
    // The upstream sends the second event only after the first one reached the client: a
    // buffering gateway would never deliver the first and this test would time out.
    const first = (await chunks.next()).value as Buffer;
    expect(first.toString()).to.equal("event: message\ndata: first\n\n");
    upstream.sendSecondEvent();
    let rest = "";
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) rest += (next.value as Buffer).toString();
    expect(rest).to.equal("event: message\ndata: second\n\n");
  });
});
