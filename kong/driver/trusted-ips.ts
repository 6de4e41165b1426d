import { BlockList, isIP } from "node:net";

/** Answers whether an address is in Kong's `trusted_ips` (addresses or CIDR blocks, IPv4 and IPv6). */
export type TrustedIpMatcher = (address: string) => boolean;

function addressFamily(address: string): "ipv4" | "ipv6" {
  return isIP(address) === 6 ? "ipv6" : "ipv4";
}

/**
 * Builds the matcher for a `trusted_ips` list such as ["127.0.0.1", "10.0.0.0/8", "::/0"]. Kong's
 * default is none: nothing is trusted, so X-Forwarded-* and X-Real-IP are ignored.
 */
export function createTrustedIpMatcher(trustedIps: readonly string[]): TrustedIpMatcher {
  const blockList = new BlockList();
  for (const entry of trustedIps) {
    const [address = "", prefixText] = entry.split("/");
    if (isIP(address) === 0) throw new Error(`trusted_ips: "${entry}" is not an IP address or CIDR block`);
    if (prefixText === undefined) blockList.addAddress(address, addressFamily(address));
    else blockList.addSubnet(address, Number(prefixText), addressFamily(address));
  }
  return (address) => isIP(address) !== 0 && blockList.check(address, addressFamily(address));
}
