import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { expect } from "chai";
import { startMcpServer, type DemoMcpServer } from "../../demo/mcp-server";

describe("demo MCP server", () => {
  let server: DemoMcpServer;
  let client: Client;
  let transport: StreamableHTTPClientTransport;

  before(async () => {
    server = await startMcpServer({ port: 0 });
    client = new Client({ name: "spec", version: "1.0.0" });
    transport = new StreamableHTTPClientTransport(new URL(server.url), {
      requestInit: { headers: { "x-mcp-oauth2-subject": "member-id", authorization: "Bearer not-checked-here" } },
    });
    await client.connect(transport);
  });

  after(async () => {
    await client.close();
    await server.close();
  });

  it("serves /mcp on 127.0.0.1", () => {
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  });

  it("lists 22 tools grouped by name prefix", async () => {
    const { tools } = await client.listTools();
    expect(tools).to.have.length(22);
    const groups = new Set(tools.map((tool) => tool.name.slice(0, tool.name.indexOf("_"))));
    expect([...groups]).to.deep.equal(["weather", "math", "text", "time", "units", "hash", "identity", "admin"]);
    expect(tools.filter((tool) => tool.name.startsWith("weather_")).map((tool) => tool.name)).to.deep.equal([
      "weather_current",
      "weather_forecast",
      "weather_alerts",
    ]);
  });

  it("calls tools deterministically and reports tool errors as results", async () => {
    expect(await client.callTool({ name: "math_add", arguments: { a: 2, b: 40 } })).to.deep.equal({ content: [{ type: "text", text: "42" }] });
    expect(await client.callTool({ name: "text_reverse", arguments: { text: "kong" } })).to.deep.equal({ content: [{ type: "text", text: "gnok" }] });
    expect(await client.callTool({ name: "time_day_of_week", arguments: { date: "2025-06-18" } })).to.deep.equal({
      content: [{ type: "text", text: "Wednesday" }],
    });
    const forecast = await client.callTool({ name: "weather_forecast", arguments: { city: "Lisbon", days: 2 } });
    expect(await client.callTool({ name: "weather_forecast", arguments: { city: "Lisbon", days: 2 } })).to.deep.equal(forecast);
    expect(await client.callTool({ name: "math_divide", arguments: { a: 1, b: 0 } })).to.deep.equal({
      content: [{ type: "text", text: "division by zero" }],
      isError: true,
    });
  });

  it("reads resources and renders prompts", async () => {
    const { resources } = await client.listResources();
    expect(resources.map((resource) => resource.uri)).to.deep.equal(["docs://readme", "docs://changelog", "config://app"]);
    const config = await client.readResource({ uri: "config://app" });
    expect(config.contents[0]).to.include({ uri: "config://app", mimeType: "application/json" });
    const { prompts } = await client.listPrompts();
    expect(prompts.map((prompt) => prompt.name)).to.deep.equal(["summarize_text", "weather_report", "explain_scopes"]);
    const prompt = await client.getPrompt({ name: "weather_report", arguments: { city: "Oslo" } });
    expect(prompt.messages[0]?.content).to.deep.include({ type: "text" });
  });

  it("records the headers of every request, and echoes identity headers but never credentials", async () => {
    server.clearReceivedRequests();
    const whoami = await client.callTool({ name: "identity_whoami", arguments: {} });
    const request = server.receivedRequests().find((received) => received.method === "POST");
    expect(request?.url).to.equal("/mcp");
    expect(request?.headers).to.include({ "x-mcp-oauth2-subject": "member-id", authorization: "Bearer not-checked-here" });
    const echoed = JSON.parse(String((whoami.content as { text: string }[])[0]?.text)) as Record<string, string>;
    expect(echoed).to.include({ "x-mcp-oauth2-subject": "member-id", authorization: "(withheld)" });
  });

  it("ends a session on DELETE and answers 404 for it afterwards", async () => {
    const other = new Client({ name: "spec-2", version: "1.0.0" });
    const otherTransport = new StreamableHTTPClientTransport(new URL(server.url));
    await other.connect(otherTransport);
    const sessionId = String(otherTransport.sessionId);
    await otherTransport.terminateSession();
    await other.close();
    expect(server.receivedRequests().some((request) => request.method === "DELETE" && request.headers["mcp-session-id"] === sessionId)).to.equal(true);
    const response = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": sessionId },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(response.status).to.equal(404);
  });

  it("refuses requests without a session, other paths and other methods", async () => {
    const noSession = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(noSession.status).to.equal(400);
    expect((await fetch(server.url.replace("/mcp", "/other"))).status).to.equal(404);
    const put = await fetch(server.url, { method: "PUT" });
    expect(put.status).to.equal(405);
    expect(put.headers.get("allow")).to.equal("GET, POST, DELETE");
  });
});
