// The unit run's survivors again (spec/mutation/mutate.mjs passes their locations as --mutate
// ranges), with the TypeScript checker: a mutant that does not compile could never ship (npm run
// build type-checks) and leaves the score as a CompileError.
import unit from "./stryker.config.mjs";

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  ...unit,
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  incrementalFile: "reports/mutation/compile-check-incremental.json",
  reporters: ["progress", "json"],
  jsonReporter: { fileName: "reports/mutation/compile-check.json" },
  tempDirName: "reports/mutation/sandbox-compile-check",
};
