/** A configuration the gate refuses to run with; `path` names the offending field as Kong would. */
export class ConfigError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = "ConfigError";
  }
}

/** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** The scope, if it is a valid OAuth scope token; ConfigError otherwise. */
export function checkScopeToken(scope: unknown, path: string): string {
  if (typeof scope !== "string" || !SCOPE_TOKEN.test(scope)) {
    throw new ConfigError(path, `${JSON.stringify(scope)} is not an OAuth scope token (RFC 6749 section 3.3: printable ASCII without spaces, double quotes or backslashes)`);
  }
  return scope;
}
