// mcp-remote (the stdio bridge of MCP clients without OAuth) as the suites run it.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

/** mcp-remote's stdio proxy, as `npx mcp-remote` runs it from this checkout's node_modules. */
export function findMcpRemoteEntry(): string {
  const manifestPath = require.resolve("mcp-remote/package.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { bin: Record<string, string> };
  return join(dirname(manifestPath), manifest.bin["mcp-remote"] as string);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Closes the client and its mcp-remote process; a survivor of the SDK's shutdown is killed. */
export async function closeMcpRemote(client: Client, transport: StdioClientTransport): Promise<void> {
  const pid = transport.pid;
  // Ends stdin, then SIGTERM and SIGKILL after 2 s each; a survivor is killed here.
  await client.close();
  if (pid !== null && isRunning(pid)) process.kill(pid, "SIGKILL");
}
