// Remembers the tokens a suite sends and finds any of them in log lines or answers: a token in a
// log is a credential handed to whoever reads the logs.
import type { KongDriver, Outcome } from "../../kong/driver";
import { collectDriverLogLines } from "./gate-driver";

/** Shorter runs could occur by chance in ordinary text; 16 base64url characters cannot. */
const WINDOW = 16;
const BASE64URL_RUN = new RegExp(`[A-Za-z0-9_-]{${WINDOW},}`, "g");
/** The start of a base64url-encoded JSON object (`{"`): any JWT header or payload segment. */
const ENCODED_JSON_OBJECT = new RegExp(`eyJ[A-Za-z0-9_-]{${WINDOW - 3}}`);

/** The tokens of a suite, kept as the first characters of each of their base64url pieces, and the outcomes it watched. */
export class TokenLedger {
  private readonly pieceStarts = new Set<string>();
  private recorded = 0;
  /** Distinct texts of the watched outcomes: a flood repeats the same answers, kept once. */
  private readonly watchedTexts = new Set<string>();

  /** Records `token` (each base64url piece of 16 characters or more) and returns it. */
  add(token: string): string {
    for (const piece of token.split(/[^A-Za-z0-9_-]+/)) {
      if (piece.length >= WINDOW) this.pieceStarts.add(piece.slice(0, WINDOW));
    }
    this.recorded += 1;
    return token;
  }

  /** How many tokens were recorded. */
  get size(): number {
    return this.recorded;
  }

  /**
   * Keeps what `outcome` shows a client or operator (its log lines and, for an answer, headers
   * and body) for findLeaksIn, and returns the outcome. Scanned there, against every token
   * recorded by then.
   */
  watch(outcome: Outcome): Outcome {
    for (const text of collectOutcomeTexts(outcome)) this.watchedTexts.add(text);
    return outcome;
  }

  /** The leaks (see findLeaks) in the watched outcomes and in every log line `driver` kept. */
  findLeaksIn(driver: KongDriver): string[] {
    return this.findLeaks([...this.watchedTexts, ...collectDriverLogLines(driver)]);
  }

  /**
   * The texts holding a recorded token (from the start of any of its pieces, so a truncated copy
   * counts) or anything shaped like an encoded JWT segment.
   */
  findLeaks(texts: Iterable<string>): string[] {
    const leaks: string[] = [];
    for (const text of texts) {
      if (ENCODED_JSON_OBJECT.test(text) || (text.match(BASE64URL_RUN) ?? []).some((run) => this.containsPieceStart(run))) {
        leaks.push(text.length > 200 ? `${text.slice(0, 200)}...` : text);
      }
    }
    return leaks;
  }

  private containsPieceStart(run: string): boolean {
    for (let start = 0; start + WINDOW <= run.length; start++) {
      if (this.pieceStarts.has(run.slice(start, start + WINDOW))) return true;
    }
    return false;
  }
}

/** The texts of an outcome a client or operator sees: its log lines and, for an answer, headers and body. */
function collectOutcomeTexts(outcome: Outcome): string[] {
  const logs = outcome.logs.map((entry) => entry.message);
  if (outcome.kind !== "exit") return logs;
  return [...logs, ...outcome.headers.map(([name, value]) => `${name}: ${value}`), outcome.body.toString("latin1")];
}
