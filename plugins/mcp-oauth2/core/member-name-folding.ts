/**
 * Member names that some upstream parsers read as another member. Go's encoding/json matches
 * struct fields case-insensitively with Unicode simple folding (`METHOD`, `paramſ` with U+017F,
 * `name` with U+212A K), go-sdk ≤ 1.4.0 also ignored a trailing NUL, and .NET hosts bind with
 * OrdinalIgnoreCase (dotless ı matches I). A gate comparing names exactly would judge one member
 * while the upstream runs the other.
 */

/** NUL and the code points Unicode says to ignore in display and matching (U+00AD, U+200B, U+FEFF...). */
const IGNORABLE = /[\u0000\p{Default_Ignorable_Code_Point}]/gu;
/** Printable ASCII: neither compatibility forms nor ignorable characters, so lower-casing folds it. */
const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;

/**
 * The name as the most lenient of those parsers could match it: compatibility forms unified
 * (NFKC), ignorable characters removed, then case folded through upper case so that ſ, K, ı
 * and İ meet s, k, i and i.
 */
export function foldMemberName(name: string): string {
  if (PRINTABLE_ASCII.test(name)) return name.toLowerCase();
  // U+0130 (İ): full lower-casing gives "i" and a combining dot; binders that lower-case one
  // character at a time (Java's equalsIgnoreCase) give "i".
  return name.normalize("NFKC").replace(IGNORABLE, "").replaceAll("\u0130", "i").toUpperCase().toLowerCase();
}

/**
 * The first member of `object` that folds onto another of its members or onto one of the
 * `structural` names without being spelled exactly like it; undefined when there is none.
 */
export function findFoldedMemberName(object: Readonly<Record<string, unknown>>, structural: ReadonlySet<string>): string | undefined {
  const seen = new Set<string>();
  for (const name of Object.keys(object)) {
    const folded = foldMemberName(name);
    if (seen.has(folded) || (structural.has(folded) && folded !== name)) return name;
    seen.add(folded);
  }
  return undefined;
}
