// Expectations on errors the code under test throws or rejects with.
import { expect } from "chai";
import { ConfigError } from "../../plugins/mcp-oauth2/core/config-error";

/** The error `promise` rejects with, once checked to be an `errorClass`; fails the test when the promise fulfils. */
export async function expectRejection<T>(promise: Promise<unknown>, errorClass: new (...args: never[]) => T): Promise<T> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(errorClass);
    return error as T;
  }
  expect.fail(`expected a rejection with ${errorClass.name}, the promise fulfilled`);
}

/** Expects `compile` to throw the ConfigError Kong's operator would read: `<path>: <problem>`. */
export function expectConfigErrorFrom(compile: () => unknown, path: string, problem: string): void {
  const thrown = expect(compile).to.throw(ConfigError);
  thrown.with.property("path", path);
  thrown.with.property("message", `${path}: ${problem}`);
}
