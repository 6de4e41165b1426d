import type { GatePolicy } from "./gate-config";

/** RFC 9728 §2 protected resource metadata, with only the members that have a value. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: ["header"];
  resource_name?: string;
}

/**
 * The resource path a metadata request asks about, or undefined when the request is not for
 * metadata. RFC 9728 §3.1 inserts the well-known path between host and resource path, so
 * `/.well-known/oauth-protected-resource/mcp` describes `/mcp`. Only the exact path or a `/`
 * boundary matches: `/.well-known/oauth-protected-resource-evil` is an ordinary request.
 */
export function matchMetadataRequest(metadataPath: string, requestPath: string): { resourcePath: string } | undefined {
  if (requestPath === metadataPath || requestPath === `${metadataPath}/`) return { resourcePath: "" };
  if (requestPath.startsWith(`${metadataPath}/`)) return { resourcePath: requestPath.slice(metadataPath.length) };
  return undefined;
}

/**
 * The metadata document for `resourcePath` (empty for the root document). The path-inserted form
 * describes origin + path; the root form describes the configured `resource`, else the origin.
 */
export function buildProtectedResourceMetadata(policy: GatePolicy, origin: string, resourcePath: string): ProtectedResourceMetadata {
  const resource = resourcePath === "" ? (policy.resource ?? origin) : origin + resourcePath;
  const metadata: ProtectedResourceMetadata = {
    resource,
    authorization_servers: policy.authorizationServers.map((server) => server.url),
    bearer_methods_supported: ["header"],
  };
  if (policy.scopesSupported.length > 0) metadata.scopes_supported = [...policy.scopesSupported];
  if (policy.resourceName !== undefined) metadata.resource_name = policy.resourceName;
  return metadata;
}

/**
 * A request path (Kong's normalized path decodes %20, UTF-8 and other safe escapes) written back
 * as a URL path: characters outside RFC 3986 pchar / "/", and a "%" that starts no escape, are
 * percent-encoded; existing escapes are kept.
 */
export function encodeUrlPath(path: string): string {
  return path.replace(/%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]+/g, (run) =>
    Array.from(Buffer.from(run, "utf8"), (byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
}

/**
 * The path-inserted metadata URL for the resource at `requestPath` (RFC 9728 §5.1 resource_metadata).
 * Pointing clients at the root document instead makes SDK clients ask for a token for the bare
 * origin, which then fails the audience check.
 */
export function formatResourceMetadataUrl(origin: string, metadataPath: string, requestPath: string): string {
  return requestPath === "/" ? origin + metadataPath : origin + metadataPath + requestPath;
}
