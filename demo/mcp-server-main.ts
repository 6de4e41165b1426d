import { startMcpServer } from "./mcp-server";
import { parsePort } from "./stack-options";
import { stopOnSignal } from "./stop-on-signal";

/**
 * Runs the demo MCP server alone, as the upstream of a real Kong (docker-compose.yml): listens on
 * MCP_DEMO_HOST (default 127.0.0.1) and MCP_DEMO_PORT (default 3001).
 */
async function main(): Promise<void> {
  const host = process.env.MCP_DEMO_HOST ?? "127.0.0.1";
  const port = parsePort(process.env.MCP_DEMO_PORT ?? "3001", "MCP_DEMO_PORT");
  const server = await startMcpServer({ host, port });
  console.log(`demo MCP server: ${server.url} (no authentication of its own: put it behind the gateway)`);
  stopOnSignal(() => server.close(), (line) => console.log(line));
}

main().catch((error: unknown) => {
  console.error(`demo MCP server failed to start: ${String(error)}`);
  process.exit(1);
});
