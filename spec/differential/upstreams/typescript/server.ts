// The differential catalogue on the MCP TypeScript SDK, stateless: a new McpServer and
// StreamableHTTPServerTransport per request, as the SDK's stateless examples do. Two front ends:
//   --mode express     createMcpExpressApp() (express.json(): the SDK's recommended server)
//   --mode node-http   the transport on bare node:http, reading the body itself
// Usage: tsx server.ts --mode <mode> --ran-log <file>; prints "listening <port> <SDK> <version>" once
// bound to 127.0.0.1.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod";
import { appendRanRecord, CASE_HEADER, type RanRecord } from "../../ran-log";

interface Catalogue {
  tools: { name: string; description: string }[];
  resources: { uri: string; name: string; text: string }[];
  resourceTemplates: { uriTemplate: string; name: string }[];
  prompts: { name: string; description: string }[];
}

const catalogue = JSON.parse(readFileSync(join(__dirname, "..", "catalogue.json"), "utf8")) as Catalogue;
const { values: options } = parseArgs({ options: { mode: { type: "string" }, "ran-log": { type: "string" } } });
const ranLog = options["ran-log"];
if (ranLog === undefined || (options.mode !== "express" && options.mode !== "node-http")) {
  throw new Error("usage: server.ts --mode express|node-http --ran-log <file>");
}
const record = (entry: RanRecord) => appendRanRecord(ranLog, entry);

/** Which params member names the item of an item-carrying method. */
const ITEM_MEMBER: Record<string, "name" | "uri"> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "resources/subscribe": "uri",
  "resources/unsubscribe": "uri",
};

type Handler = (message: { method: string; params?: Record<string, unknown> }, ...rest: unknown[]) => unknown;

/**
 * Wraps every request and notification handler the SDK registered so that invoking one writes a
 * `dispatch` record. The maps are the SDK's own (Protocol._requestHandlers and
 * _notificationHandlers): the only place that sees what the SDK dispatches after parsing.
 */
function recordDispatches(server: McpServer, caseId: string): void {
  const protocol = server.server as unknown as Record<string, unknown>;
  for (const field of ["_requestHandlers", "_notificationHandlers"]) {
    const handlers = protocol[field];
    if (!(handlers instanceof Map)) throw new Error(`this SDK version has no ${field} map: update the differential upstream`);
    for (const [method, handler] of handlers as Map<string, Handler>) {
      handlers.set(method, (message: Parameters<Handler>[0], ...rest: unknown[]) => {
        const member = ITEM_MEMBER[method];
        const item = member === undefined ? undefined : message.params?.[member];
        record({ case: caseId, event: "dispatch", method, ...(typeof item === "string" ? { item } : {}) });
        return handler(message, ...rest);
      });
    }
  }
}

function buildServer(caseId: string): McpServer {
  const server = new McpServer({ name: "differential-typescript", version: "1.0.0" }, { capabilities: { resources: { subscribe: true }, logging: {} } });
  const served = (method: string, item: string) => record({ case: caseId, event: "served", method, item });
  for (const tool of catalogue.tools) {
    server.registerTool(tool.name, { description: tool.description, inputSchema: { city: z.string().optional() } }, () => {
      served("tools/call", tool.name);
      return { content: [{ type: "text", text: `${tool.name} ran` }] };
    });
  }
  for (const resource of catalogue.resources) {
    server.registerResource(resource.name, resource.uri, { mimeType: "text/plain" }, (uri) => {
      served("resources/read", uri.href);
      return { contents: [{ uri: uri.href, text: resource.text }] };
    });
  }
  for (const template of catalogue.resourceTemplates) {
    server.registerResource(template.name, new ResourceTemplate(template.uriTemplate, { list: undefined }), { mimeType: "text/plain" }, (uri) => {
      served("resources/read", uri.href);
      return { contents: [{ uri: uri.href, text: `${template.name} file` }] };
    });
  }
  for (const prompt of catalogue.prompts) {
    server.registerPrompt(prompt.name, { description: prompt.description }, () => {
      served("prompts/get", prompt.name);
      return { messages: [{ role: "user", content: { type: "text", text: prompt.description } }] };
    });
  }
  // The SDK serves subscriptions only when the application handles them: accept and forget.
  server.server.setRequestHandler(SubscribeRequestSchema, () => ({}));
  server.server.setRequestHandler(UnsubscribeRequestSchema, () => ({}));
  recordDispatches(server, caseId);
  return server;
}

function caseOf(request: IncomingMessage): string {
  const value = request.headers[CASE_HEADER];
  return typeof value === "string" ? value : "untagged";
}

/** One stateless exchange: a fresh server and transport, closed when the response ends. */
async function serveStateless(request: IncomingMessage, response: ServerResponse, parsedBody?: unknown): Promise<void> {
  const caseId = caseOf(request);
  record({ case: caseId, event: "http", method: request.method ?? "" });
  const server = buildServer(caseId);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  response.on("close", () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(request, response, parsedBody);
}

function answerFailure(response: ServerResponse): void {
  if (!response.headersSent) response.writeHead(500, { "content-type": "application/json" }).end('{"error":"upstream failure"}');
}

async function listen(): Promise<AddressInfo> {
  if (options.mode === "express") {
    const app = createMcpExpressApp();
    app.all("/mcp", (request, response) => {
      serveStateless(request, response, request.body).catch(() => answerFailure(response));
    });
    return new Promise((resolve) => {
      const server = app.listen(0, "127.0.0.1", () => resolve(server.address() as AddressInfo));
    });
  }
  const server = createServer((request, response) => {
    serveStateless(request, response).catch(() => answerFailure(response));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address() as AddressInfo)));
}

/** The SDK version really loaded (dist/cjs/server/mcp.js is three levels below its package.json). */
function sdkVersion(): string {
  const manifest = join(dirname(require.resolve("@modelcontextprotocol/sdk/server/mcp.js")), "..", "..", "..", "package.json");
  return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
}

void listen().then(({ port }) => console.log(`listening ${port} @modelcontextprotocol/sdk ${sdkVersion()}`));
