// Preloaded (NODE_OPTIONS=--require) into Stryker's processes by spec/mutation/mutate.mjs.
// @stryker-mutator/mocha-runner 10 requires mocha's CLI helpers by extensionless paths
// (mocha/lib/cli/run-helpers, options, collect-files), which mocha 12 ships as .cjs files: this
// retries such a path with ".cjs" when the extensionless one does not resolve.
"use strict";
const Module = require("node:module");

const resolveFilename = Module._resolveFilename;
const MOCHA_CLI_HELPER = /[\\/]mocha[\\/]lib[\\/]cli[\\/][\w-]+$/;

Module._resolveFilename = function resolveMochaCliHelper(request, ...rest) {
  try {
    return resolveFilename.call(this, request, ...rest);
  } catch (error) {
    if (!MOCHA_CLI_HELPER.test(request)) throw error;
    return resolveFilename.call(this, `${request}.cjs`, ...rest);
  }
};
