// `npm run mutate`: StrykerJS over the plugin's core and handler (see the README's Development
// section). Stryker 10 needs Node 22 while the project runs on Node 20, so the npm script starts
// this file with Node 22 taken from npm.
//
//   npm run mutate                       the unit specs (incremental: reruns only what changed),
//                                        then the TypeScript checker on their survivors
//   npm run mutate -- --integration      the survivors of the last unit run that compile and are not
//                                        listed as equivalent against the plugin's integration specs,
//                                        on the real plugin server
//   npm run mutate -- --integration method-acl handler
//                                        the same for the survivors in files whose path contains a name given
//   npm run mutate -- --report           the combined per-file table of the last runs
// Other arguments go to Stryker (e.g. --mutate plugins/mcp-oauth2/core/method-acl.ts).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { COMPILE_CHECK_REPORT, printCombinedReport, readSurvivorRanges, UNIT_REPORT } from "./mutation-report.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
process.chdir(root);

const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(`mutate: Stryker 10 needs Node 22 or later (this is ${process.version}); run it as "npm run mutate"`);
  process.exit(2);
}

const args = process.argv.slice(2);
const integration = args.includes("--integration");
const reportOnly = args.includes("--report");
const strykerArgs = args.filter((arg) => arg !== "--integration" && arg !== "--report");
/** With --integration, bare words name the files whose survivors to try (all when none). */
const fileFilters = integration ? strykerArgs.filter((arg, index) => !arg.startsWith("-") && !strykerArgs[index - 1]?.startsWith("-")) : [];

function runStryker(config, extraArgs) {
  const shim = join(here, "resolve-mocha-cli.cjs");
  const nodeOptions = [process.env.NODE_OPTIONS, `--require ${shim}`].filter(Boolean).join(" ");
  const stryker = join(root, "node_modules", "@stryker-mutator", "core", "bin", "stryker.js");
  const result = spawnSync(process.execPath, [stryker, "run", relative(root, join(here, config)), ...extraArgs], {
    stdio: "inherit",
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function readJson(file) {
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined;
}

/** Runs `config` on the unit run's survivors (without those that do not compile, once known). */
function runOnSurvivors(config, what, extraArgs, files = [], skipListed = false) {
  const unit = readJson(UNIT_REPORT);
  if (unit === undefined) {
    console.error(`mutate: ${UNIT_REPORT} is missing: run "npm run mutate" first`);
    process.exit(2);
  }
  const ranges = readSurvivorRanges(unit, readJson(COMPILE_CHECK_REPORT), { skipListed }).filter((range) => files.length === 0 || files.some((file) => range.split(":")[0].includes(file)));
  if (ranges.length === 0) return console.log(`mutate: no survivor of the unit run to try ${what}`);
  console.log(`mutate: trying ${ranges.length} survivors of the unit run ${what}`);
  runStryker(config, ["--mutate", ranges.join(","), ...extraArgs]);
}

if (!reportOnly) {
  if (integration) {
    runOnSurvivors("stryker.integration.config.mjs", "against the integration specs", strykerArgs.filter((arg) => !fileFilters.includes(arg)), fileFilters, true);
  } else {
    runStryker("stryker.config.mjs", strykerArgs);
    runOnSurvivors("stryker.compile-check.config.mjs", "with the TypeScript checker", []);
  }
}
printCombinedReport();
