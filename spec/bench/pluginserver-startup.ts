// Prints start-up time (spawn until the socket accepts connections, tried every 2 ms) and idle
// RSS of the plugin servers: ours with JavaScript plugins (ts-node not loaded), ours with a
// TypeScript plugin (transpile-only), and the stock server (ts-node registered with type-checking).
// Run: npm run build && npx tsx spec/bench/pluginserver-startup.ts
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildPluginServerCommands, type PluginServerImplementation } from "../../kong/driver";
import { PluginServerProcess } from "../../kong/driver/plugin-server-process";
import { createTestPluginDirectory } from "../support/test-plugins";
import { readResidentMemoryMiB } from "./load-driver";
import { median } from "./sample-statistics";

const RUNS = 5;

async function measureOnce(implementation: PluginServerImplementation, pluginsDirectory: string): Promise<{ ms: number; rss: number; loaded: boolean }> {
  const socketDirectory = mkdtempSync(join(tmpdir(), "mcp-oauth2-sock-"));
  const { startCommand, socketPath } = buildPluginServerCommands(implementation, pluginsDirectory, socketDirectory);
  try {
    const started = process.hrtime.bigint();
    // Fails when the server exits or misses the start deadline instead of waiting for ever.
    const server = await PluginServerProcess.start({ startCommand, socketPath, socketPollIntervalMs: 2 });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const rss = await readResidentMemoryMiB(server.pid as number);
      const output = [...server.stdoutLines, ...server.stderrLines];
      return { ms, rss, loaded: !output.some((line) => line.includes("error loading plugin")) };
    } finally {
      await server.kill();
    }
  } finally {
    rmSync(socketDirectory, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const javascript = createTestPluginDirectory("echo");
  const typescript = mkdtempSync(join(tmpdir(), "mcp-oauth2-ts-plugins-"));
  for (const file of readdirSync(javascript.path)) copyFileSync(join(javascript.path, file), join(typescript, file.replace(/\.js$/, ".ts")));
  const cases: Array<[string, PluginServerImplementation, string]> = [
    ["ours, JavaScript plugin (ts-node not loaded)", "ours", javascript.path],
    ["ours, TypeScript plugin (ts-node transpile-only)", "ours", typescript],
    ["stock, JavaScript plugin (ts-node registered, type-checking)", "stock", javascript.path],
    ["stock, TypeScript plugin (type-checked on load)", "stock", typescript],
  ];
  try {
    for (const [label, implementation, directory] of cases) {
      const runs = [];
      for (let run = 0; run < RUNS; run += 1) runs.push(await measureOnce(implementation, directory));
      const loaded = runs.every((run) => run.loaded) ? "" : " (plugin failed to load)";
      console.log(`${label.padEnd(62)} start ${median(runs.map((run) => run.ms)).toFixed(0)} ms, idle RSS ${median(runs.map((run) => run.rss)).toFixed(1)} MiB${loaded}`);
    }
  } finally {
    javascript.remove();
    rmSync(typescript, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
