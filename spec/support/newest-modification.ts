// Build freshness checks: compiled output is stale once anything it was built from is newer.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * The newest modification time (ms) of `path` and, for a directory, of everything under it at any
 * depth. A directory's own time counts: adding, removing or renaming a source file changes it.
 */
export function findNewestModification(path: string): number {
  const status = statSync(path);
  if (!status.isDirectory()) return status.mtimeMs;
  return Math.max(status.mtimeMs, ...readdirSync(path).map((entry) => findNewestModification(join(path, entry))));
}
