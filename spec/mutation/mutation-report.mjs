// Reads the reports of `npm run mutate` (unit run, then the integration run of its survivors) and
// prints one table: a mutant counts as killed when either the unit or the integration specs kill
// it. Survivors listed in equivalent-mutants.md are shown apart; every other one is named.
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";

export const UNIT_REPORT = "reports/mutation/unit.json";
export const COMPILE_CHECK_REPORT = "reports/mutation/compile-check.json";
export const INTEGRATION_REPORT = "reports/mutation/integration.json";
const EQUIVALENT_LIST = "spec/mutation/equivalent-mutants.md";

const KILLED = new Set(["Killed", "Timeout"]);
const LIVE = new Set(["Survived", "NoCoverage"]);

function mutantKey(file, mutant) {
  const { start, end } = mutant.location;
  return `${file}|${mutant.mutatorName}|${start.line}:${start.column}-${end.line}:${end.column}|${mutant.replacement}`;
}

/** Keys of the mutants a report gives `status`. */
function keysWithStatus(report, statuses) {
  const keys = new Set();
  for (const [file, { mutants }] of Object.entries(report?.files ?? {})) {
    for (const mutant of mutants) if (statuses.has(mutant.status)) keys.add(mutantKey(file, mutant));
  }
  return keys;
}

const COMPILE_ERROR = new Set(["CompileError"]);

/**
 * Stryker's --mutate ranges (1-based lines, 0-based columns) of the unit run's survivors, without
 * those the compile check found not to compile (and, with skipListed, those listed as equivalent).
 */
export function readSurvivorRanges(report, compileCheck, { skipListed = false } = {}) {
  const uncompilable = keysWithStatus(compileCheck, COMPILE_ERROR);
  const listed = skipListed ? readEquivalentList() : new Map();
  const ranges = new Set();
  for (const [file, { source, mutants }] of Object.entries(report.files)) {
    for (const mutant of mutants) {
      if (!LIVE.has(mutant.status) || uncompilable.has(mutantKey(file, mutant))) continue;
      if (listed.has(equivalentEntryKey(file, source, mutant))) continue;
      const { start, end } = mutant.location;
      ranges.add(`${file}:${start.line}:${start.column - 1}-${end.line}:${end.column - 1}`);
    }
  }
  return [...ranges];
}

/**
 * The list's entries: "- `file.ts` Mutator `source line` → `replacement`: why". A survivor matches
 * an entry by file name, mutator, the trimmed text of its line and its replacement, so the list
 * survives edits elsewhere in the file.
 */
function readEquivalentList() {
  if (!existsSync(EQUIVALENT_LIST)) return new Map();
  const entries = new Map();
  const entry = /^- `([^`]+)` (\w+) `(.+)` → `(.*)`: (.+)$/;
  for (const line of readFileSync(EQUIVALENT_LIST, "utf8").split("\n")) {
    const match = entry.exec(line);
    if (match) entries.set(match.slice(1, 5).join("|"), { reason: match[5], used: false });
  }
  return entries;
}

function sourceLine(source, mutant) {
  return source.split("\n")[mutant.location.start.line - 1].trim();
}

/** The replacement as one line, as the list writes it. */
function flatReplacement(mutant) {
  return (mutant.replacement ?? "").replace(/\s*\n\s*/g, " ");
}

export function equivalentEntryKey(file, source, mutant) {
  return [basename(file), mutant.mutatorName, sourceLine(source, mutant), flatReplacement(mutant)].join("|");
}

export function printCombinedReport() {
  if (!existsSync(UNIT_REPORT)) return;
  const read = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined);
  const unit = read(UNIT_REPORT);
  const uncompilable = keysWithStatus(read(COMPILE_CHECK_REPORT), COMPILE_ERROR);
  const integrationKilled = keysWithStatus(read(INTEGRATION_REPORT), KILLED);
  const equivalents = readEquivalentList();
  const rows = [];
  const unexplained = [];
  for (const [file, { source, mutants }] of Object.entries(unit.files).sort(([a], [b]) => a.localeCompare(b))) {
    const row = { file: basename(file), valid: 0, unit: 0, integration: 0, equivalent: 0, survived: 0, ignored: 0 };
    for (const mutant of mutants) {
      const key = mutantKey(file, mutant);
      if (mutant.status === "Ignored") row.ignored++;
      if (!KILLED.has(mutant.status) && !LIVE.has(mutant.status)) continue; // compile errors, ignored static mutants
      if (uncompilable.has(key)) continue;
      row.valid++;
      if (KILLED.has(mutant.status)) row.unit++;
      else if (integrationKilled.has(key)) row.integration++;
      else {
        const listed = equivalents.get(equivalentEntryKey(file, source, mutant));
        if (listed) {
          listed.used = true;
          row.equivalent++;
        } else {
          row.survived++;
          unexplained.push(`- \`${basename(file)}\` ${mutant.mutatorName} \`${sourceLine(source, mutant)}\` → \`${flatReplacement(mutant)}\`: (line ${mutant.location.start.line}, ${mutant.status})`);
        }
      }
    }
    rows.push(row);
  }
  const total = rows.reduce(
    (sum, row) => ({
      file: "all files",
      valid: sum.valid + row.valid,
      unit: sum.unit + row.unit,
      integration: sum.integration + row.integration,
      equivalent: sum.equivalent + row.equivalent,
      survived: sum.survived + row.survived,
      ignored: sum.ignored + row.ignored,
    }),
    { valid: 0, unit: 0, integration: 0, equivalent: 0, survived: 0, ignored: 0 },
  );
  const percent = (part, whole) => (whole === 0 ? "100.00" : ((100 * part) / whole).toFixed(2));
  console.log("\nmutation score, unit and integration specs together (equivalents listed in spec/mutation/equivalent-mutants.md count as survivors in the score)");
  console.log("file                         mutants  unit  integ  equiv  unexplained  score   without equiv  (static, not run)");
  for (const row of [...rows, total]) {
    const killed = row.unit + row.integration;
    console.log(
      `${row.file.padEnd(28)} ${String(row.valid).padStart(7)} ${String(row.unit).padStart(5)} ${String(row.integration).padStart(6)} ${String(row.equivalent).padStart(6)} ${String(row.survived).padStart(12)}  ${percent(killed, row.valid).padStart(6)}  ${percent(killed, row.valid - row.equivalent).padStart(13)}  ${String(row.ignored).padStart(6)}`,
    );
  }
  if (unexplained.length > 0) console.log(`\nsurvivors neither killed nor listed as equivalent (${unexplained.length}):\n${unexplained.join("\n")}`);
  const stale = [...equivalents].filter(([, entry]) => !entry.used).map(([key]) => key);
  if (stale.length > 0) console.log(`\nentries of ${EQUIVALENT_LIST} that match no survivor of the last run (${stale.length}):\n${stale.join("\n")}`);
}
