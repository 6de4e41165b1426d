// `npm run mutate -- --integration`: the survivors of the unit run (spec/mutation/mutate.mjs passes
// their locations as --mutate ranges) against the plugin's integration specs, which run the real
// plugin server from dist/. The instrumented sources are built into the sandbox's dist/ once; the
// command runner names the mutant to activate in the environment, which the plugin servers the
// specs start inherit. The two 100,000-request floods are left out: they judge volume, not verdicts,
// and would add minutes per mutant.
import unit from "./stryker.config.mjs";

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  mutate: unit.mutate,
  testRunner: "command",
  commandRunner: {
    command:
      "node node_modules/mocha/bin/mocha.js --bail 'spec/integration/plugin/**/*.spec.ts' 'spec/integration/adversarial/*.spec.ts' --ignore spec/integration/adversarial/floods.spec.ts",
  },
  // Runs before Stryker links node_modules into the sandbox: tsc is found on the PATH Stryker sets.
  buildCommand: "tsc -p tsconfig.json",
  coverageAnalysis: "off",
  // The unit run's checker already sorted out the mutants that do not compile.
  checkers: [],
  disableTypeChecks: unit.disableTypeChecks,
  concurrency: 2,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: "reports/mutation/integration.json" },
  tempDirName: "reports/mutation/sandbox-integration",
  ignorePatterns: unit.ignorePatterns,
  cleanTempDir: "always",
  thresholds: unit.thresholds,
};
