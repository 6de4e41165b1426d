// `npm run bench`: figures for mcp-oauth2 through the real plugin server, driven by the Kong driver
// (driver.handle: the plugin-server path without HTTP) at a fixed concurrency, after a warm-up.
// Prints a table per scenario, ratios to the floor plugin, and whether each target is met.
// A script that prints, not a test: nothing here asserts a time.
// Options: npm run bench -- --concurrency 16 --requests 3000 --warmup 2000 --rounds 7
//   --distinct-tokens 100000 --rejections 100000 --only allowed,floor --server-node-options="--cpu-prof --cpu-prof-dir=/tmp/profiles"
//   --server-node /path/to/node (the runtime of the plugin servers; default: the one running this script)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { isDeepStrictEqual, parseArgs } from "node:util";
import { builtListFilterPluginsDirectory, startPluginServerDriver, type KongDriver, type Outcome, type PdkCall } from "../../kong/driver";
import { Version as pluginVersion } from "../../plugins/mcp-oauth2";
import { defineScenarios, type Comparison, type Scenario, type ScenarioSizes } from "./gate-scenarios";
import { measureLoad, readCpuSeconds, readResidentMemoryMiB } from "./load-driver";
import { median, percentile } from "./sample-statistics";

interface BenchOptions extends ScenarioSizes {
  readonly concurrency: number;
  /** 401s sent to each plugin server after the rounds, to compare their memory. */
  readonly rejections: number;
  readonly only: ReadonlySet<string> | undefined;
  /** Node options for the plugin servers (e.g. --cpu-prof --cpu-prof-dir=/tmp/profiles). */
  readonly serverNodeOptions: readonly string[];
  /** The node executable of the plugin servers (Kong runs whichever Node its image carries). */
  readonly serverNode: string;
}

interface Sample {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of the plugin server and of this process (the driver) per request. */
  serverCpuMicroseconds: number;
  driverCpuMicroseconds: number;
}

interface RunningScenario {
  readonly scenario: Scenario;
  readonly driver: KongDriver;
  /** The scenario's first plugin server (mcp-oauth2, or the floor plugin): its RSS is the one read. */
  readonly pid: number;
  /** Every plugin server of the scenario: their CPU adds up. */
  readonly pids: readonly number[];
  /** Closes the driver and its plugin server. */
  readonly close: () => Promise<void>;
  /** Requests sent so far: the index of the next one. */
  sent: number;
  readonly samples: Sample[];
  readonly rssCheckpointsMiB: Array<[requests: number, rssMiB: number]>;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  minPdkCalls: number;
  maxPdkCalls: number;
  /** The PDK calls of the last outcome, to compare the floor with scenario 1. */
  lastPdkCalls: readonly PdkCall[];
}

function readOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      concurrency: { type: "string", default: "16" },
      requests: { type: "string", default: "3000" },
      warmup: { type: "string", default: "2000" },
      rounds: { type: "string", default: "7" },
      "distinct-tokens": { type: "string", default: "100000" },
      rejections: { type: "string", default: "100000" },
      only: { type: "string" },
      "server-node-options": { type: "string", default: "" },
      "server-node": { type: "string", default: process.execPath },
    },
  });
  const count = (name: keyof typeof values): number => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  return {
    concurrency: count("concurrency"),
    requests: count("requests"),
    warmup: count("warmup"),
    rounds: count("rounds"),
    distinctTokens: count("distinct-tokens"),
    rejections: count("rejections"),
    only: values.only === undefined ? undefined : new Set(values.only.split(",")),
    serverNodeOptions: (values["server-node-options"] ?? "").split(" ").filter((option) => option !== ""),
    serverNode: values["server-node"] ?? process.execPath,
  };
}

function readNodeVersion(node: string): string {
  return node === process.execPath ? process.version : execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
}

function describeMachine(options: BenchOptions): string[] {
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0]?.model ?? "unknown";
  const kongPdkVersion = (JSON.parse(readFileSync(require.resolve("kong-pdk/package.json"), "utf8")) as { version: string }).version;
  return [
    `machine: ${cpuModel}, ${availableParallelism()} cores, Node ${process.version} (driver) and ${readNodeVersion(options.serverNode)} (plugin servers), kong-pdk ${kongPdkVersion}, mcp-oauth2 ${pluginVersion}`,
    `settings: concurrency ${options.concurrency}, warm-up ${options.warmup}, ${options.rounds} rounds; in each round every comparison runs its two scenarios ` +
      `back to back (${options.requests} requests each, alternating which goes first); ${options.distinctTokens} distinct tokens; ${options.rejections} rejections for the memory comparison` +
      (options.serverNodeOptions.length > 0 ? `, plugin servers run with ${options.serverNodeOptions.join(" ")}` : ""),
    `load average at start: ${loadavg().map((load) => load.toFixed(2)).join(" ")} (other jobs on the machine skew every figure)`,
  ];
}

function inspectOutcome(running: RunningScenario, outcome: Outcome): void {
  const problem = running.scenario.check(outcome);
  if (problem !== undefined) throw new Error(`${running.scenario.label}: ${problem}`);
  // Both phases' round trips: the access phase's, and the response phase's with buffered proxying.
  const pdkCalls = outcome.pdkCalls.length + (outcome.kind === "proceed" ? (outcome.response?.pdkCalls.length ?? 0) : 0);
  running.minPdkCalls = Math.min(running.minPdkCalls, pdkCalls);
  running.maxPdkCalls = Math.max(running.maxPdkCalls, pdkCalls);
  running.lastPdkCalls = outcome.pdkCalls;
}

async function sendRequests(running: RunningScenario, count: number, concurrency: number): Promise<Sample> {
  const offset = running.sent;
  running.sent += count;
  const serverCpuBefore = await readCpuSeconds(...running.pids);
  const driverCpuBefore = process.cpuUsage();
  const { requestsPerSecond, latenciesMs } = await measureLoad(
    running.driver,
    (index) => running.scenario.request(offset + index),
    count,
    concurrency,
    (outcome) => inspectOutcome(running, outcome),
    running.scenario.upstream,
  );
  const driverCpu = process.cpuUsage(driverCpuBefore);
  return {
    requestsPerSecond,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    serverCpuMicroseconds: ((await readCpuSeconds(...running.pids)) - serverCpuBefore) * 1e6 / count,
    driverCpuMicroseconds: (driverCpu.user + driverCpu.system) / count,
  };
}

/** Starts the scenario's plugin server and driver, warms up (reading RSS at the checkpoints). */
async function startScenario(scenario: Scenario, options: BenchOptions): Promise<RunningScenario> {
  const listFilter = scenario.listFilter === true;
  const { driver, close } = await startPluginServerDriver(scenario.server, scenario.pluginsDirectory, {
    nodeCommand: [options.serverNode, ...options.serverNodeOptions],
    otherPluginsDirectories: listFilter ? [builtListFilterPluginsDirectory()] : [],
    routes: [
      {
        id: "mcp",
        paths: ["/mcp"],
        upstream: "http://127.0.0.1:9/mcp",
        plugins: [{ id: `bench-${scenario.id}`, config: scenario.config }, ...(listFilter ? [{ id: `bench-${scenario.id}-lists`, name: "mcp-oauth2-list-filter", config: {} }] : [])],
      },
    ],
    consumers: scenario.consumers,
  });
  const running: RunningScenario = {
    scenario,
    driver,
    pid: driver.serverPid as number,
    pids: driver.serverPids,
    close,
    sent: 0,
    samples: [],
    rssCheckpointsMiB: [],
    rssBeforeMiB: Number.NaN,
    rssAfterMiB: Number.NaN,
    minPdkCalls: Infinity,
    maxPdkCalls: 0,
    lastPdkCalls: [],
  };
  try {
    for (const checkpoint of new Set([...scenario.rssCheckpoints, scenario.warmup])) {
      if (checkpoint > running.sent) await sendRequests(running, checkpoint - running.sent, options.concurrency);
      if (scenario.rssCheckpoints.includes(checkpoint)) running.rssCheckpointsMiB.push([checkpoint, await readResidentMemoryMiB(running.pid)]);
    }
    running.rssBeforeMiB = await readResidentMemoryMiB(running.pid);
  } catch (error) {
    await running.close();
    throw error;
  }
  return running;
}


const column = (text: string, width: number): string => (text.length >= width ? text : text.padEnd(width));
const number = (value: number, digits = 0): string => value.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const signed = (value: number): string => `${value >= 0 ? "+" : ""}${number(value, 1)}`;

function medianOf(running: RunningScenario, read: (sample: Sample) => number): number {
  return median(running.samples.map(read));
}

function formatRow(running: RunningScenario): string {
  const rates = running.samples.map((sample) => sample.requestsPerSecond);
  const pdkCalls = running.minPdkCalls === running.maxPdkCalls ? `${running.maxPdkCalls}` : `${running.minPdkCalls}-${running.maxPdkCalls}`;
  return [
    column(running.scenario.label, 52),
    column(number(median(rates)), 8),
    column(`${number(Math.min(...rates))}-${number(Math.max(...rates))}`, 14),
    column(number(medianOf(running, (sample) => sample.p50Ms), 2), 7),
    column(number(medianOf(running, (sample) => sample.p99Ms), 2), 7),
    column(pdkCalls, 5),
    column(number(medianOf(running, (sample) => sample.serverCpuMicroseconds)), 7),
    column(number(medianOf(running, (sample) => sample.driverCpuMicroseconds)), 7),
    `${number(running.rssBeforeMiB, 1)} -> ${number(running.rssAfterMiB, 1)}`,
  ].join(" ");
}

/** The ratios of one comparison, one per round, from its two back-to-back samples. */
interface PairedRatios {
  readonly comparison: Comparison;
  /** a's throughput over b's. */
  readonly throughput: number[];
  /** b's plugin-server CPU per request over a's: above 1, a costs less than b. */
  readonly serverCpu: number[];
}

type Verdict = { met: boolean; line: string };

function verdictLine(met: boolean, text: string): Verdict {
  return { met, line: `${met ? "MET    " : "MISSED "} ${text}` };
}

function describeThroughputRatio(ratios: PairedRatios): string {
  const throughput = ratios.throughput;
  return `throughput ratio ${median(throughput).toFixed(2)} (rounds ${Math.min(...throughput).toFixed(2)}-${Math.max(...throughput).toFixed(2)})`;
}

function judgeRatio(ratios: PairedRatios): Verdict | undefined {
  const minimum = ratios.comparison.minimum;
  if (minimum === undefined || ratios.throughput.length === 0) return undefined;
  return verdictLine(median(ratios.throughput) >= minimum, `${ratios.comparison.what}: ${describeThroughputRatio(ratios)} (target >= ${minimum.toFixed(2)})`);
}

/** The same target on the plugin server's CPU per request: the throughput ratio if the plugin server were the bottleneck. */
function judgeServerCpu(ratios: PairedRatios): Verdict | undefined {
  const minimum = ratios.comparison.minimum;
  if (minimum === undefined || ratios.serverCpu.length === 0) return undefined;
  const ratio = median(ratios.serverCpu);
  return verdictLine(ratio >= minimum, `${ratios.comparison.what}: plugin-server CPU ratio ${ratio.toFixed(2)} (target >= ${minimum.toFixed(2)})`);
}

function judgePdkCalls(byId: ReadonlyMap<string, RunningScenario>, id: string, maximum: number): Verdict | undefined {
  const running = byId.get(id);
  if (running === undefined) return undefined;
  return verdictLine(running.maxPdkCalls <= maximum, `PDK round trips, ${running.scenario.label}: ${running.maxPdkCalls} (target <= ${maximum})`);
}

/** The cached-introspection path must cost no more PDK round trips than a cached JWT: the same calls, in order. */
function judgeSamePdkCalls(byId: ReadonlyMap<string, RunningScenario>, id: string, reference: string): Verdict | undefined {
  const [running, baseline] = [byId.get(id), byId.get(reference)];
  if (running === undefined || baseline === undefined) return undefined;
  const methods = (entry: RunningScenario) => entry.lastPdkCalls.map((call) => call.method).join(", ");
  return verdictLine(
    running.maxPdkCalls <= baseline.minPdkCalls && methods(running) === methods(baseline),
    `PDK round trips, ${running.scenario.label}: ${running.maxPdkCalls} (${methods(running)}); ${baseline.scenario.label}: ${baseline.minPdkCalls} (target: the same calls)`,
  );
}

/** A refusal's plugin-server CPU per request (median over samples) must stay under `maximumMicroseconds`. */
function judgeServerCpuBelow(byId: ReadonlyMap<string, RunningScenario>, id: string, maximumMicroseconds: number): Verdict | undefined {
  const running = byId.get(id);
  if (running === undefined || running.samples.length === 0) return undefined;
  const cpu = medianOf(running, (sample) => sample.serverCpuMicroseconds);
  return verdictLine(cpu < maximumMicroseconds, `plugin-server CPU, ${running.scenario.label}: ${number(cpu)} us per request (target < ${number(maximumMicroseconds)})`);
}

function readCheckpoint(running: RunningScenario, requests: number): number {
  return running.rssCheckpointsMiB.find(([seen]) => seen === requests)?.[1] ?? Number.NaN;
}

/**
 * The bounded cache passes its distinct tokens twice: over the second pass (all misses, all
 * evicted long ago) its RSS must grow by at most a quarter of what caching those tokens costs
 * (the unbounded cache's growth from a tenth of the tokens to all of them, scaled).
 */
function judgeBoundedCache(byId: ReadonlyMap<string, RunningScenario>, distinctTokens: number): Verdict | undefined {
  const bounded = byId.get("bounded-cache");
  const cached = byId.get("all-cached");
  if (bounded === undefined || cached === undefined) return undefined;
  const secondPassGrowth = readCheckpoint(bounded, 2 * distinctTokens) - readCheckpoint(bounded, distinctTokens);
  const cachingCost = (readCheckpoint(cached, distinctTokens) - readCheckpoint(cached, Math.round(0.1 * distinctTokens))) / 0.9;
  return verdictLine(
    secondPassGrowth <= cachingCost / 4,
    `RSS bounded by token_cache_size: ${number(distinctTokens)} more distinct tokens through a cache of a tenth of them changed RSS by ${signed(secondPassGrowth)} MiB; ` +
      `caching ${number(distinctTokens)} tokens costs ${number(cachingCost, 1)} MiB (target: at most a quarter of that)`,
  );
}

function printCheckpoints(running: RunningScenario): void {
  if (running.rssCheckpointsMiB.length === 0) return;
  const points = running.rssCheckpointsMiB.map(([requests, rss]) => `${number(requests)}: ${number(rss, 1)}`).join(", ");
  console.log(`  ${running.scenario.label}: RSS MiB after N requests: ${points}`);
}

/**
 * Sends the rejections to each server in quarters, reading RSS after each. Judged on the second
 * half: V8 may still size its young generation early on (the driver docs saw +13 MiB once), a
 * leak keeps growing (the stock server: about 1.5 KB per 401).
 */
async function compareRejectionMemory(byId: ReadonlyMap<string, RunningScenario>, options: BenchOptions): Promise<Verdict[]> {
  const secondHalfGrowth = new Map<string, number>();
  for (const id of ["401", "stock-401"]) {
    const running = byId.get(id);
    if (running === undefined) continue;
    const readings = [await readResidentMemoryMiB(running.pid)];
    const rates: number[] = [];
    for (let quarter = 0; quarter < 4; quarter += 1) {
      rates.push((await sendRequests(running, Math.ceil(options.rejections / 4), options.concurrency)).requestsPerSecond);
      readings.push(await readResidentMemoryMiB(running.pid));
    }
    secondHalfGrowth.set(id, (readings[4] as number) - (readings[2] as number));
    console.log(
      `  ${column(running.scenario.label, 32)} RSS MiB ${readings.map((reading) => number(reading, 1)).join(" -> ")} over ${number(options.rejections)} more 401s ` +
        `(each quarter; ${number(median(rates))} requests/s)`,
    );
  }
  const ours = secondHalfGrowth.get("401");
  if (ours === undefined) return [];
  const stock = secondHalfGrowth.get("stock-401");
  return [
    verdictLine(
      ours < 4,
      `flat RSS on the 401 path, our entry: ${signed(ours)} MiB over the second half of the ${number(options.rejections)} 401s (target < 4; stock ${signed(stock ?? Number.NaN)})`,
    ),
  ];
}

function checkFloorMirrorsScenarioOne(byId: ReadonlyMap<string, RunningScenario>): void {
  const floor = byId.get("floor");
  const allowed = byId.get("allowed");
  if (floor === undefined || allowed === undefined) return;
  // The plugins' names differ; what each asks Kong must not.
  const asked = (calls: readonly PdkCall[]) => calls.map(({ method, args }) => ({ method, args }));
  const same = isDeepStrictEqual(asked(floor.lastPdkCalls), asked(allowed.lastPdkCalls));
  console.log(`floor makes the same PDK calls as scenario 1 (methods, arguments, order): ${same ? "yes" : "NO"}: ${allowed.lastPdkCalls.map((call) => call.method).join(", ")}`);
  if (!same) throw new Error("the floor no longer mirrors scenario 1: update spec/bench/floor-plugin.ts");
}

/** Each round measures every comparison's two scenarios back to back, alternating which goes first. */
async function runRounds(byId: ReadonlyMap<string, RunningScenario>, comparisons: readonly Comparison[], options: BenchOptions): Promise<PairedRatios[]> {
  const paired = comparisons
    .filter((comparison) => byId.has(comparison.a) && byId.has(comparison.b))
    .map((comparison): PairedRatios => ({ comparison, throughput: [], serverCpu: [] }));
  for (let round = 0; round < options.rounds; round += 1) {
    console.log(`round ${round + 1} of ${options.rounds}...`);
    for (const ratios of round % 2 === 0 ? paired : [...paired].reverse()) {
      const [a, b] = [byId.get(ratios.comparison.a), byId.get(ratios.comparison.b)] as [RunningScenario, RunningScenario];
      const order = round % 2 === 0 ? [a, b] : [b, a];
      const samples = new Map<RunningScenario, Sample>();
      for (const running of order) {
        const sample = await sendRequests(running, options.requests, options.concurrency);
        running.samples.push(sample);
        samples.set(running, sample);
      }
      const [sampleA, sampleB] = [samples.get(a), samples.get(b)] as [Sample, Sample];
      ratios.throughput.push(sampleA.requestsPerSecond / sampleB.requestsPerSecond);
      ratios.serverCpu.push(sampleB.serverCpuMicroseconds / sampleA.serverCpuMicroseconds);
    }
  }
  return paired;
}

async function main(): Promise<void> {
  const options = readOptions();
  for (const line of describeMachine(options)) console.log(line);
  console.log("signing token pools...");
  const set = await defineScenarios(options, options.only);
  const running: RunningScenario[] = [];
  try {
    for (const scenario of set.scenarios) {
      const started = await startScenario(scenario, options);
      running.push(started);
      if (options.serverNodeOptions.length > 0) console.log(`  plugin server ${started.pid}: ${scenario.label}`);
      if (!scenario.measured) await started.close();
    }
    const byId = new Map(running.map((entry) => [entry.scenario.id, entry]));
    checkFloorMirrorsScenarioOne(byId);
    const paired = await runRounds(byId, set.comparisons, options);
    const measured = running.filter((entry) => entry.samples.length > 0);
    for (const entry of measured) entry.rssAfterMiB = await readResidentMemoryMiB(entry.pid);

    console.log("");
    console.log(`${column("scenario", 52)} ${column("req/s", 8)} ${column("min-max", 14)} ${column("p50 ms", 7)} ${column("p99 ms", 7)} PDK   srv us  drv us  RSS MiB before -> after`);
    for (const entry of measured) console.log(formatRow(entry));
    console.log("(medians over every sample of the scenario; srv us / drv us: CPU microseconds per request in the plugin server / in the driver process;");
    console.log(" RSS of the plugin server after the warm-up and after the rounds)");
    for (const entry of running) printCheckpoints(entry);

    console.log("\nmemory on the 401 path:");
    const rejectionVerdicts = await compareRejectionMemory(byId, options);
    console.log("\nratios (paired: both scenarios measured back to back in each round; median over rounds):");
    for (const ratios of paired) {
      console.log(`  ${column(ratios.comparison.what, 46)} ${describeThroughputRatio(ratios)}, plugin-server CPU ratio ${median(ratios.serverCpu).toFixed(2)}`);
    }
    const verdicts = [
      judgePdkCalls(byId, "allowed", 5),
      judgePdkCalls(byId, "acl-off", 4),
      judgePdkCalls(byId, "401", 5),
      judgeSamePdkCalls(byId, "opaque-cached", "allowed"),
      judgeServerCpuBelow(byId, "401-nested", 5000),
      judgeServerCpuBelow(byId, "400-nested", 5000),
      ...paired.map(judgeRatio),
      judgeBoundedCache(byId, options.distinctTokens),
      ...rejectionVerdicts,
    ].filter((verdict): verdict is Verdict => verdict !== undefined);
    console.log("\ntargets:");
    for (const verdict of verdicts) console.log(`  ${verdict.line}`);
    const cpuVerdicts = paired.map(judgeServerCpu).filter((verdict): verdict is Verdict => verdict !== undefined);
    console.log("\nthe ratio targets on plugin-server CPU per request (what limits a Kong node: its one plugin server serves every nginx worker):");
    for (const verdict of cpuVerdicts) console.log(`  ${verdict.line}`);
    const countMet = (list: readonly Verdict[]) => `${list.filter((verdict) => verdict.met).length} of ${list.length}`;
    console.log(`\n${countMet(verdicts)} targets met; ${countMet(cpuVerdicts)} ratio targets met on plugin-server CPU; load average at end: ${loadavg().map((load) => load.toFixed(2)).join(" ")}`);
  } finally {
    for (const entry of running) if (entry.scenario.measured) await entry.close();
    await set.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
