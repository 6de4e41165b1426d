// The log every differential upstream writes, one JSON object per line, whatever its language:
// what reached it over HTTP and which handlers its SDK really ran. The suite judges these lines,
// never the upstream's answers.
import { appendFileSync, readFileSync } from "node:fs";

/** The request header that tags each request of the suite; Kong and the gate pass it through untouched. */
export const CASE_HEADER = "x-differential-case";

/**
 * One line of the log.
 * - `http`: a request reached the upstream's HTTP server (the gate let it through).
 * - `dispatch`: the SDK invoked its handler for `method`; `item` is `params.name` (tools/call,
 *   prompts/get) or `params.uri` (resources/read, subscribe, unsubscribe) as the SDK parsed them.
 * - `served`: a catalogue entry ran: the tool or prompt name, or the resource URI as the SDK
 *   resolved it to a resource or template.
 */
export interface RanRecord {
  readonly case: string;
  readonly event: "http" | "dispatch" | "served";
  readonly method: string;
  readonly item?: string;
}

/** Appends one record synchronously, so it is on disk before the upstream answers. */
export function appendRanRecord(path: string, record: RanRecord): void {
  appendFileSync(path, `${JSON.stringify(record)}\n`);
}

/** Reads a log from byte `offset` on: the complete lines, and where the next read starts. */
export function readRanRecords(path: string, offset: number): { records: RanRecord[]; nextOffset: number } {
  const bytes = readFileSync(path).subarray(offset);
  const end = bytes.lastIndexOf(0x0a) + 1;
  const lines = bytes.subarray(0, end).toString("utf8").split("\n").filter((line) => line !== "");
  return { records: lines.map((line) => JSON.parse(line) as RanRecord), nextOffset: offset + end };
}
