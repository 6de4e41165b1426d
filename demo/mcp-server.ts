import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { formatHttpOrigin } from "../kong/driver";
import { closeServer, listenOn, readRequestBody } from "./http-server";
import { registerDemoCatalog } from "./mcp-catalog";

/** The MCP endpoint's path; the gateway route forwards it unchanged. */
export const MCP_PATH = "/mcp";

const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** The request log is for tests and demos: it keeps the most recent requests only. */
const MAX_RECORDED_REQUESTS = 1000;

/** Where the demo MCP server listens. */
export interface McpServerOptions {
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  readonly host?: string;
}

/** One HTTP request as the MCP server received it from the gateway. */
export interface ReceivedRequest {
  readonly method: string;
  /** Path and query string. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** A running demo MCP server. */
export interface DemoMcpServer {
  /** `http://<host>:<port>/mcp`. */
  readonly url: string;
  /** The requests received so far, oldest first: what the gateway forwarded, headers included. */
  receivedRequests(): readonly ReceivedRequest[];
  clearReceivedRequests(): void;
  /**
   * Tells every open session that the tool list changed (notifications/tools/list_changed): a
   * notification of no request, so it travels on the session's GET SSE stream when one is open.
   */
  announceToolListChange(): void;
  close(): Promise<void>;
}

/**
 * Starts the demo MCP server: Streamable HTTP on `/mcp` with stateful sessions (POST, GET for the
 * server-to-client SSE stream, DELETE to end a session), serving the catalog of
 * {@link registerDemoCatalog}. It validates no token: authentication and authorization are the
 * gateway's job, and it trusts whatever reaches it.
 */
export async function startMcpServer(options: McpServerOptions): Promise<DemoMcpServer> {
  const host = options.host ?? "127.0.0.1";
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const servers = new Set<McpServer>();
  const received: ReceivedRequest[] = [];

  const server = createServer((req, res) => {
    received.push({ method: req.method ?? "", url: req.url ?? "", headers: { ...req.headers } });
    if (received.length > MAX_RECORDED_REQUESTS) received.shift();
    routeMcpRequest(sessions, servers, req, res).catch(() => {
      if (!res.headersSent) sendJsonRpcError(res, 500, -32603, "Internal error");
    });
  });
  await listenOn(server, options.port, host);
  const { port } = server.address() as AddressInfo;

  return {
    url: `${formatHttpOrigin(host, port)}${MCP_PATH}`,
    receivedRequests: () => [...received],
    clearReceivedRequests: () => {
      received.length = 0;
    },
    announceToolListChange: () => {
      for (const server of servers) server.sendToolListChanged();
    },
    close: async () => {
      await Promise.all([...sessions.values()].map((transport) => transport.close()));
      await closeServer(server);
    },
  };
}

async function routeMcpRequest(
  sessions: Map<string, StreamableHTTPServerTransport>,
  servers: Set<McpServer>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (new URL(req.url ?? "/", "http://localhost").pathname !== MCP_PATH) {
    res.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found");
    return;
  }
  const sessionHeader = req.headers["mcp-session-id"];
  const sessionId = typeof sessionHeader === "string" ? sessionHeader : undefined;

  if (req.method === "POST") {
    let body: unknown;
    try {
      body = JSON.parse(await readRequestBody(req, MAX_BODY_BYTES));
    } catch {
      sendJsonRpcError(res, 400, -32700, "Parse error");
      return;
    }
    if (sessionId === undefined && isInitializeRequest(body)) {
      const transport = await openSession(sessions, servers);
      await transport.handleRequest(req, res, body);
      return;
    }
    const transport = findSession(sessions, sessionId, res);
    if (transport !== undefined) await transport.handleRequest(req, res, body);
    return;
  }
  if (req.method === "GET" || req.method === "DELETE") {
    const transport = findSession(sessions, sessionId, res);
    if (transport !== undefined) await transport.handleRequest(req, res);
    return;
  }
  res.writeHead(405, { Allow: "GET, POST, DELETE" }).end();
}

/** A session is one transport bound to one McpServer (an McpServer serves a single transport). */
async function openSession(sessions: Map<string, StreamableHTTPServerTransport>, servers: Set<McpServer>): Promise<StreamableHTTPServerTransport> {
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: randomUUID,
    onsessioninitialized: (id) => {
      sessions.set(id, transport);
    },
    onsessionclosed: (id) => {
      sessions.delete(id);
    },
  });
  const server = new McpServer({ name: "mcp-oauth2-demo", version: "1.0.0" });
  transport.onclose = () => {
    if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    servers.delete(server);
  };
  registerDemoCatalog(server, { countSessions: () => sessions.size });
  await server.connect(transport);
  servers.add(server);
  return transport;
}

function findSession(
  sessions: ReadonlyMap<string, StreamableHTTPServerTransport>,
  sessionId: string | undefined,
  res: ServerResponse,
): StreamableHTTPServerTransport | undefined {
  if (sessionId === undefined) {
    sendJsonRpcError(res, 400, -32000, "Bad Request: no valid session ID provided");
    return undefined;
  }
  const transport = sessions.get(sessionId);
  // Streamable HTTP: an unknown session is 404, telling the client to initialize a new one.
  if (transport === undefined) sendJsonRpcError(res, 404, -32001, "Session not found");
  return transport;
}

function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}
