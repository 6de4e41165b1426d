/**
 * Marks the calling suite or test as skipped, saying why on one line: mocha lists skipped
 * tests as pending without a reason, and a silent skip reads like a pass.
 */
export function skipBecause(context: Mocha.Context, reason: string): never {
  console.log(`      skipped: ${reason}`);
  context.skip();
}
