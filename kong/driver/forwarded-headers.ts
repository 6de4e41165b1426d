// X-Forwarded-* and X-Real-IP as Kong 3.9 reads them: a client may speak for the original request
// only from an address in trusted_ips, else its values are ignored.
import { getFirstHeaderValue, type HeaderList } from "./header-list";
import type { TrustedIpMatcher } from "./trusted-ips";

/** A value nginx's realip module could parse as an address (it ignores anything else). */
const ADDRESS_LIKE = /^[0-9a-f.:]+$/i;

/** The first value of a forwarded header, or undefined when `clientIp` is not trusted. */
export function readForwardedHeader(headers: HeaderList, name: string, clientIp: string, isTrusted: TrustedIpMatcher): string | undefined {
  return isTrusted(clientIp) ? getFirstHeaderValue(headers, name) : undefined;
}

/**
 * The client address after nginx's realip module (real_ip_header X-Real-IP, set_real_ip_from
 * trusted_ips): X-Real-IP from a trusted client when it is an address, else the peer address.
 */
export function realClientIp(headers: HeaderList, clientIp: string, isTrusted: TrustedIpMatcher): string {
  const realIp = readForwardedHeader(headers, "x-real-ip", clientIp, isTrusted);
  return realIp !== undefined && ADDRESS_LIKE.test(realIp) ? realIp : clientIp;
}
