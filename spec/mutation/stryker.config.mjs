// StrykerJS over the plugin's core and handler with the unit specs (`npm run mutate`).
// spec/mutation/mutate.mjs runs it; see the README's Development section.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  mutate: ["plugins/mcp-oauth2/core/**/*.ts", "plugins/mcp-oauth2/handler.ts"],
  testRunner: "mocha",
  mochaOptions: { spec: ["spec/unit/**/*.spec.ts"] },
  coverageAnalysis: "perTest",
  // A static mutant (a module-level constant) needs a fresh process and every spec per run: a fifth
  // of the mutants but most of the time. They are left out and counted apart.
  ignoreStatic: true,
  // Mutants that do not compile are sorted out afterwards among the survivors only
  // (stryker.compile-check.config.mjs): type-checking every mutant would take most of the time.
  checkers: [],
  // The instrumented sources are not type-checked as a whole: tsx strips the types.
  disableTypeChecks: "plugins/**/*.ts",
  concurrency: 2,
  incremental: true,
  incrementalFile: "reports/mutation/unit-incremental.json",
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/unit.html" },
  jsonReporter: { fileName: "reports/mutation/unit.json" },
  tempDirName: "reports/mutation/sandbox",
  ignorePatterns: ["dist", ".cache", "spec/artifacts", "spec/kong-manager", "spec/differential/.cache", "reports"],
  cleanTempDir: "always",
  thresholds: { high: 95, low: 92, break: null },
};
