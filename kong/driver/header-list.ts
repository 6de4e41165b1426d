/** HTTP header fields in wire order, duplicates kept; names and values are byte strings. */
export type HeaderList = Array<[name: string, value: string]>;

/**
 * Hop-by-hop fields (RFC 9110 section 7.6.1, plus the legacy Keep-Alive and Proxy-Connection): a
 * proxy does not forward them, in either direction.
 */
export const HOP_BY_HOP_HEADERS: readonly string[] = ["connection", "keep-alive", "proxy-connection", "te", "upgrade", "transfer-encoding", "trailer"];

/** nginx's $http_<name> lookup: case-insensitive, "-" and "_" equal. */
function variableName(name: string): string {
  return name.toLowerCase().replaceAll("-", "_");
}

/** The first value of a request header, matched like `kong.request.get_header` ("_" equals "-"). */
export function getFirstHeaderValue(headers: HeaderList, name: string): string | undefined {
  const wanted = variableName(name);
  return headers.find(([candidate]) => variableName(candidate) === wanted)?.[1];
}

/** The values of a header matched case-insensitively (exact characters otherwise). */
export function getHeaderValues(headers: HeaderList, name: string): string[] {
  const wanted = name.toLowerCase();
  return headers.filter(([candidate]) => candidate.toLowerCase() === wanted).map(([, value]) => value);
}

/** Removes every field named `name` (case-insensitive), like `ngx.req.clear_header`. */
export function clearHeader(headers: HeaderList, name: string): HeaderList {
  const wanted = name.toLowerCase();
  return headers.filter(([candidate]) => candidate.toLowerCase() !== wanted);
}

/**
 * Replaces every field named `name` by one field per value, at the place of the first one (or at the
 * end), like `ngx.req.set_header`; no values removes the header.
 */
export function setHeader(headers: HeaderList, name: string, values: readonly string[]): HeaderList {
  const wanted = name.toLowerCase();
  const firstIndex = headers.findIndex(([candidate]) => candidate.toLowerCase() === wanted);
  const replacement: HeaderList = values.map((value) => [name, value]);
  if (firstIndex === -1) return [...headers, ...replacement];
  const kept = clearHeader(headers, name);
  kept.splice(firstIndex, 0, ...replacement);
  return kept;
}

/** Appends fields, like `kong.service.request.add_header`. */
export function addHeader(headers: HeaderList, name: string, values: readonly string[]): HeaderList {
  return [...headers, ...values.map((value): [string, string] => [name, value])];
}

/**
 * The request headers nginx keeps with its defaults (`underscores_in_headers off`,
 * `ignore_invalid_headers on`): a field whose name holds "_" or any non-token character is dropped.
 */
export function dropInvalidRequestHeaders(headers: HeaderList): HeaderList {
  return headers.filter(([name]) => /^[A-Za-z0-9-]+$/.test(name));
}

/** Converts Node's flat rawHeaders array into a header list. */
export function headerListFromRawHeaders(rawHeaders: readonly string[]): HeaderList {
  const headers: HeaderList = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    headers.push([rawHeaders[index] as string, rawHeaders[index + 1] as string]);
  }
  return headers;
}

/** Converts a header list into Node's flat array form (keeps order and duplicates). */
export function headerListToRawHeaders(headers: HeaderList): string[] {
  return headers.flat();
}
