/**
 * UTF-7 (RFC 2152) of `text` as one shifted run: `+`, the base64 of its UTF-16BE code units without
 * padding, `-`. IMAP's variant (RFC 3501 §5.1.3) shifts with `&` and writes `,` for `/`. For bodies
 * that a UTF-7 reader decodes differently from a UTF-8 one.
 */
export function encodeUtf7Run(text: string, variant: "utf-7" | "utf-7-imap" = "utf-7"): string {
  const base64 = Buffer.from(text, "utf16le").swap16().toString("base64").replace(/=+$/, "");
  return variant === "utf-7" ? `+${base64}-` : `&${base64.replaceAll("/", ",")}-`;
}
