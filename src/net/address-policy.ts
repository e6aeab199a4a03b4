/**
 * Which addresses the gateway may fetch from on a caller's behalf: public unicast only. Loopback,
 * private, link-local (cloud metadata at 169.254.169.254), CGNAT, documentation, multicast and
 * reserved ranges are refused, in IPv4 and IPv6, including IPv4 wrapped in IPv6.
 */
import { BlockList, isIP } from 'node:net';

const BLOCKED_V4: readonly [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

const BLOCKED_V6: readonly [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
];

const blocked = new BlockList();
for (const [net, prefix] of BLOCKED_V4) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of BLOCKED_V6) blocked.addSubnet(net, prefix, 'ipv6');

/** True when `ip` is a public unicast address. Anything unparseable is not. */
export function isPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return !blocked.check(ip, 'ipv4');
  if (family !== 6) return false;
  const embedded = embeddedIpv4(ip);
  if (embedded) return isPublicAddress(embedded);
  return !blocked.check(ip, 'ipv6');
}

/** The IPv4 address inside ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible) or 64:ff9b::/96 (NAT64). */
function embeddedIpv4(ip: string): string | null {
  const lower = ip.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted?.[1]) return dotted[1];
  const hex = /^(?:::ffff:|::|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex?.[1] || !hex[2]) return null;
  const high = parseInt(hex[1], 16);
  const low = parseInt(hex[2], 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** Decides one address: public, or private but allowed by the operator. */
export type AddressFilter = (ip: string) => boolean;

/**
 * `allowAll` (development) lets every address through; `exceptions` are addresses or CIDRs an
 * operator trusts although they are private (an internal asset host, a test server).
 */
export function createAddressFilter(allowAll: boolean, exceptions: readonly string[] = []): AddressFilter {
  if (allowAll) return () => true;
  if (exceptions.length === 0) return isPublicAddress;
  const allowed = new BlockList();
  for (const entry of exceptions) addException(allowed, entry);
  return (ip) => {
    if (isPublicAddress(ip)) return true;
    const family = isIP(ip);
    return family !== 0 && allowed.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/** `10.1.2.3`, `10.0.0.0/8` or `fd00::/8`; throws a RangeError naming the bad entry. */
export function addException(list: BlockList, entry: string): void {
  const [address = '', prefixText] = entry.trim().split('/');
  const family = isIP(address);
  if (family === 0) throw new RangeError(`'${entry}' is not an IP address or CIDR`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (prefixText === undefined) return list.addAddress(address, type);
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) throw new RangeError(`'${entry}' has an invalid prefix length`);
  list.addSubnet(address, prefix, type);
}
