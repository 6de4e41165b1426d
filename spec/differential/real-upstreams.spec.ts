import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import fc from "fast-check";
import { skipBecause } from "../support/skip-suite";
import { CATALOGUE_ACL, loadAclExamples, scopeSetsOf, type AclExample } from "./acl-examples";
import { startGateFront, type ClientAnswer, type GateFront } from "./gate-front";
import { createGrantOracle, type GrantOracle } from "./grant-oracle";
import type { RanRecord } from "./ran-log";
import { catalogueCalls, hostileCases, type RequestCase } from "./request-corpus";
import { fuzzedRequestArbitrary } from "./request-fuzzing";
import { installUpstreams, type InstalledUpstreams } from "./upstreams/install";
import { UPSTREAMS } from "./upstreams/registry";
import { startUpstream, type RunningUpstream } from "./upstream-process";

/** Fixed so that a failure reproduces; DIFFERENTIAL_SEED explores others. */
const SEED = Number(process.env["DIFFERENTIAL_SEED"] ?? 20260915);
const FUZZ_RUNS = Number(process.env["DIFFERENTIAL_RUNS"] ?? 2000);
/** Handlers that run after the answer (notifications) get this long to reach the log before the verdict. */
const SETTLE_MS = 500;

/**
 * Corpus cases that some upstream runs although the gate's ACL denies them, whose fix in the gate
 * is still to come: reported on every run, not failed on. Each entry names the upstream and the
 * case's label exactly.
 */
const PENDING_GATE_FIXES: readonly { readonly upstream: string; readonly label: string }[] = [];

/** One request of the plan: the ACL of its route, the token's scopes (undefined: no token). */
interface PlannedCase {
  readonly example: AclExample;
  readonly scopes: readonly string[] | undefined;
  readonly request: RequestCase;
}

/** What an upstream ran that the gate's ACL does not allow for the case's token. */
interface Violation {
  readonly caseId: string;
  readonly record: RanRecord;
  readonly planned: PlannedCase | undefined;
}

/**
 * The same plan for every upstream: each catalogue call under each ACL with each scope set (and no
 * token), the hostile corpus under the catalogue ACL with its scope sets, then the fuzzed requests.
 */
function planCases(examples: readonly AclExample[]): PlannedCase[] {
  const withEveryToken = (example: AclExample, requests: readonly RequestCase[]) =>
    [undefined, ...scopeSetsOf(example)].flatMap((scopes) => requests.map((request) => ({ example, scopes, request })));
  const fuzzed = fc.sample(fuzzedRequestArbitrary, { seed: SEED, numRuns: FUZZ_RUNS });
  return [
    ...examples.flatMap((example) => withEveryToken(example, catalogueCalls())),
    ...withEveryToken(CATALOGUE_ACL, hostileCases()),
    ...fuzzed.map(({ scopes, request }) => ({ example: CATALOGUE_ACL, scopes, request })),
  ];
}

/** Each record against its case: nothing reaches an upstream without a token, and every handler that ran is one the ACL allows. */
function findViolations(records: readonly RanRecord[], plan: readonly PlannedCase[], oracles: ReadonlyMap<string, GrantOracle>): Violation[] {
  const violations: Violation[] = [];
  for (const record of records) {
    const planned = plan[Number(record.case)];
    if (planned === undefined) {
      violations.push({ caseId: record.case, record, planned });
      continue;
    }
    const { scopes, example } = planned;
    const allowed = scopes !== undefined && (record.event === "http" || (oracles.get(example.name) as GrantOracle)(scopes, record.method, record.item));
    if (!allowed) violations.push({ caseId: record.case, record, planned });
  }
  return violations;
}

function describeViolation(upstream: string, { caseId, record, planned }: Violation): string {
  if (planned === undefined) return `${upstream}: a record for no case of the plan: ${JSON.stringify(record)}`;
  const { example, scopes, request } = planned;
  const bodyText = request.body.subarray(0, 400).toString("latin1");
  return [
    `${upstream} case ${caseId} [${request.label}] under ${example.name}, token ${scopes === undefined ? "none" : `[${scopes.join(" ")}]`}:`,
    `  ran ${record.event} ${record.method}${record.item === undefined ? "" : ` ${JSON.stringify(record.item)}`}`,
    `  request ${request.method}${request.chunked ? " (chunked)" : ""} ${JSON.stringify(request.headers)} body ${JSON.stringify(bodyText)}${request.body.length > 400 ? ` … (${request.body.length} bytes)` : ""}`,
  ].join("\n");
}

function isPending(upstream: string, violation: Violation): boolean {
  return PENDING_GATE_FIXES.some((pending) => pending.upstream === upstream && pending.label === violation.planned?.request.label);
}

describe("differential: real MCP servers behind the gate run only what the ACL allows", function () {
  // Upstreams that are started once and answer thousands of requests: minutes, bounded.
  this.timeout(8 * 60_000);
  const examples = loadAclExamples();
  const oracles = new Map(examples.map((example) => [example.name, createGrantOracle(example)]));
  const plan = planCases(examples);
  const running = new Map<string, RunningUpstream>();
  let installed: InstalledUpstreams;
  let front: GateFront;
  let workDirectory: string;

  before(async function () {
    // A first install downloads the Python and Go SDKs.
    this.timeout(15 * 60_000);
    installed = await installUpstreams((line) => console.log(`      ${line}`));
    workDirectory = mkdtempSync(join(tmpdir(), "mcp-oauth2-differential-"));
    front = await startGateFront();
    for (const definition of UPSTREAMS) {
      if (!definition.status(installed).ready) continue;
      running.set(definition.name, await startUpstream(definition.name, (ranLog) => definition.command(installed, ranLog), workDirectory));
    }
    front.route([...running].map(([name, { origin }]) => ({ name, origin })), examples);
    console.log(`      fast-check seed ${SEED}, ${FUZZ_RUNS} fuzzed requests per upstream (DIFFERENTIAL_SEED, DIFFERENTIAL_RUNS explore others)`);
  });

  after(async () => {
    await Promise.all([...running.values()].map((upstream) => upstream.close()));
    await front?.close();
    if (workDirectory !== undefined) rmSync(workDirectory, { recursive: true, force: true });
  });

  for (const definition of UPSTREAMS) {
    it(`${definition.name}: ${definition.frontEnd}`, async function () {
      const status = definition.status(installed);
      if (!status.ready) skipBecause(this, `${definition.name}: ${status.reason}`);
      const upstream = running.get(definition.name) as RunningUpstream;
      const records: RanRecord[] = [];
      const answers = new Map<string, number>();
      const unanswered: string[] = [];
      for (const [index, { example, scopes, request }] of plan.entries()) {
        const token = scopes === undefined ? undefined : await front.tokenFor(scopes);
        const answer: ClientAnswer = await front.send(definition.name, example.name, request, token, String(index));
        const key = "status" in answer ? String(answer.status) : "no answer";
        answers.set(key, (answers.get(key) ?? 0) + 1);
        if ("error" in answer) unanswered.push(`${request.label} (${answer.error})`);
        records.push(...upstream.takeRecords());
      }
      await sleep(SETTLE_MS);
      records.push(...upstream.takeRecords());

      const violations = findViolations(records, plan, oracles);
      const reached = new Set(records.filter((record) => record.event === "http").map((record) => record.case));
      const fuzzedReached = [...reached].filter((caseId) => plan[Number(caseId)]?.request.label === "fuzz").length;
      const pending = violations.filter((violation) => isPending(definition.name, violation));
      console.log(
        `      ${definition.name} (${upstream.sdk}): ${plan.length} cases, ${reached.size} allowed, ${plan.length - reached.size} refused, ` +
          `${violations.length - pending.length} violations${pending.length > 0 ? ` (+${pending.length} pending a gate fix)` : ""}; ` +
          `fuzzed: ${fuzzedReached} of ${FUZZ_RUNS} allowed; ` +
          `answers ${[...answers].sort().map(([answer, count]) => `${count} × ${answer}`).join(", ")}`,
      );
      if (unanswered.length > 0) console.log(`      no answer to: ${[...new Set(unanswered)].join("; ")}`);
      for (const violation of pending) console.log(`      pending: ${describeViolation(definition.name, violation)}`);
      const unexpected = violations.filter((violation) => !isPending(definition.name, violation));
      if (unexpected.length > 0) {
        const byClass = new Map<string, number>();
        for (const { planned } of unexpected) {
          const kind = planned?.request.label.split(":")[0] ?? "unplanned";
          byClass.set(kind, (byClass.get(kind) ?? 0) + 1);
        }
        expect.fail(
          `${unexpected.length} handler runs the ACL does not allow (${[...byClass].map(([kind, count]) => `${kind} ${count}`).join(", ")}):\n` +
            unexpected.slice(0, 30).map((violation) => describeViolation(definition.name, violation)).join("\n"),
        );
      }
      // The plan reaches both verdicts, or it says little.
      expect(reached.size).to.be.greaterThan(0).and.lessThan(plan.length);
    });
  }
});
