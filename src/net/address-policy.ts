/**
 * Which addresses the gateway may fetch from on a caller's behalf: public unicast only. Every
 * range in the IANA IPv4 and IPv6 special-purpose address registries is refused (plus multicast,
 * deprecated site-local and IPv6 space not yet allocated for unicast). IPv6 forms that carry an
 * IPv4 address (mapped, translated, NAT64, 6to4, Teredo) are decided by that IPv4 address.
 * Addresses are parsed into bytes and decided on bytes, so no spelling of an address slips past.
 */
import { BlockList, isIP } from 'node:net';

/** A network as bytes (4 or 16) and a prefix length. */
interface Range {
  net: Uint8Array;
  prefix: number;
}

/** IPv4 ranges never fetched from. */
const REFUSED_V4: readonly Range[] = [
  range('0.0.0.0', 8), // "this network"; 0.0.0.0 reaches the local host on many stacks
  range('10.0.0.0', 8), // private use
  range('100.64.0.0', 10), // shared address space (carrier-grade NAT)
  range('127.0.0.0', 8), // loopback
  range('169.254.0.0', 16), // link-local, where cloud metadata services answer
  range('172.16.0.0', 12), // private use
  range('192.0.0.0', 24), // IETF protocol assignments (DS-Lite, NAT64 discovery, anycast services)
  range('192.0.2.0', 24), // documentation (TEST-NET-1)
  range('192.31.196.0', 24), // AS112 reverse-DNS sink
  range('192.52.193.0', 24), // AMT relays
  range('192.88.99.0', 24), // deprecated 6to4 relay anycast
  range('192.168.0.0', 16), // private use
  range('192.175.48.0', 24), // AS112 direct delegation
  range('198.18.0.0', 15), // benchmarking
  range('198.51.100.0', 24), // documentation (TEST-NET-2)
  range('203.0.113.0', 24), // documentation (TEST-NET-3)
  range('224.0.0.0', 4), // multicast
  range('240.0.0.0', 4), // reserved
  range('255.255.255.255', 32), // limited broadcast
];

/**
 * IPv6 ranges never fetched from. Checked after the IPv4-carrying forms (below), which are
 * decided by their IPv4 address although some of them lie inside these ranges.
 */
const REFUSED_V6: readonly Range[] = [
  range('::', 96), // unspecified, loopback and the deprecated IPv4-compatible form
  range('64:ff9b:1::', 48), // local-use NAT64 (RFC 8215): translates into networks of the operator's choosing
  range('100::', 64), // discard-only
  range('100:0:0:1::', 64), // dummy prefix
  range('2001::', 23), // IETF protocol assignments (Teredo, 2001::/32, is decided before this table)
  range('2001:db8::', 32), // documentation
  range('2620:4f:8000::', 48), // AS112 direct delegation
  range('3fff::', 20), // documentation
  range('5f00::', 16), // SRv6 segment identifiers
  range('fc00::', 7), // unique local
  range('fe80::', 10), // link-local
  range('fec0::', 10), // deprecated site-local
  range('ff00::', 8), // multicast
  // Outside 2000::/3 nothing is allocated for global unicast: refuse the rest too.
  range('::', 3),
  range('4000::', 2),
  range('8000::', 1),
];

/** IPv6 forms that stand for one IPv4 host: traffic to them reaches that host, directly or translated. */
const V4_STAND_INS: readonly Range[] = [
  range('::ffff:0:0', 96), // IPv4-mapped: a dual-stack socket connects to the IPv4 address itself
  range('::ffff:0:0:0', 96), // IPv4-translated (SIIT)
  range('64:ff9b::', 96), // well-known NAT64 prefix (RFC 6052): the translator connects to the IPv4 address
];

/** 6to4: the IPv4 address of the site's 6to4 router sits in bits 16-47. */
const SIX_TO_FOUR = range('2002::', 16);
/** Teredo: server IPv4 in bits 32-63, client IPv4 (inverted) in the last 32 bits. */
const TEREDO = range('2001::', 32);

/** True when `ip` is a public unicast address. Anything unparseable is not. */
export function isPublicAddress(ip: string): boolean {
  const bytes = parseAddress(ip);
  if (!bytes) return false;
  return bytes.length === 4 ? isPublicV4(bytes) : isPublicV6(bytes);
}

function isPublicV4(bytes: Uint8Array): boolean {
  return !REFUSED_V4.some((r) => inRange(bytes, r));
}

function isPublicV6(bytes: Uint8Array): boolean {
  const standIn = standInV4(bytes);
  if (standIn) return isPublicV4(standIn);
  // Tunnelled traffic is carried to the embedded IPv4 addresses, so each of them must be public too.
  const tunnel = tunnelEndpoints(bytes);
  if (tunnel) return tunnel.every(isPublicV4);
  return !REFUSED_V6.some((r) => inRange(bytes, r));
}

/** The IPv4 host a mapped, translated or NAT64 address stands for. */
function standInV4(bytes: Uint8Array): Uint8Array | null {
  return V4_STAND_INS.some((r) => inRange(bytes, r)) ? bytes.subarray(12, 16) : null;
}

/** The IPv4 addresses a 6to4 or Teredo address sends traffic through. */
function tunnelEndpoints(bytes: Uint8Array): Uint8Array[] | null {
  if (inRange(bytes, SIX_TO_FOUR)) return [bytes.subarray(2, 6)];
  if (inRange(bytes, TEREDO)) return [bytes.subarray(4, 8), bytes.subarray(12, 16).map((b) => b ^ 0xff)];
  return null;
}

function inRange(bytes: Uint8Array, { net, prefix }: Range): boolean {
  if (bytes.length !== net.length) return false;
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== net[i]) return false;
  const bits = prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return ((bytes[whole] ?? 0) & mask) === ((net[whole] ?? 0) & mask);
}

function range(address: string, prefix: number): Range {
  const net = parseAddress(address);
  if (!net) throw new Error(`bad range ${address}`);
  return { net, prefix };
}

/**
 * 4 bytes for a dotted-quad IPv4 address, 16 for an IPv6 address in any textual form (`::`
 * expansion, leading zeros in groups, either case, a dotted-quad tail); null for anything else,
 * including scoped (`%zone`) addresses, which are never public.
 */
function parseAddress(ip: string): Uint8Array | null {
  const family = isIP(ip);
  if (family === 4) return parseV4(ip);
  if (family === 6) return parseV6(ip);
  return null;
}

function parseV4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    // No leading zeros: some parsers read them as octal.
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return null;
    bytes[i] = Number(part);
  }
  return bytes;
}

function parseV6(text: string): Uint8Array | null {
  const groups = v6Groups(withHexTail(text));
  if (!groups) return null;
  const bytes = new Uint8Array(16);
  for (const [i, group] of groups.entries()) {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  }
  return bytes;
}

/** `::ffff:1.2.3.4` as `::ffff:102:304`; a dotted quad anywhere but the tail stays and fails later. */
function withHexTail(text: string): string {
  const colon = text.lastIndexOf(':');
  const tail = text.slice(colon + 1);
  if (!tail.includes('.')) return text;
  const v4 = parseV4(tail);
  if (!v4) return text;
  const view = new DataView(v4.buffer);
  return `${text.slice(0, colon + 1)}${view.getUint16(0).toString(16)}:${view.getUint16(2).toString(16)}`;
}

/** Eight 16-bit groups, `::` expanded; null unless every group is 1-4 hex digits. */
function v6Groups(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const [head = '', tail] = halves;
  const front = hexGroups(head);
  const back = tail === undefined ? [] : hexGroups(tail);
  if (!front || !back) return null;
  const missing = 8 - front.length - back.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  return [...front, ...new Array<number>(tail === undefined ? 0 : missing).fill(0), ...back];
}

function hexGroups(text: string): number[] | null {
  if (text === '') return [];
  const groups = text.split(':');
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  return groups.map((g) => parseInt(g, 16));
}

function formatV4(bytes: Uint8Array): string {
  return Array.from(bytes).join('.');
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
  return (ip) => isPublicAddress(ip) || isExcepted(allowed, ip);
}

/** An IPv6 form standing for an IPv4 host matches that host's exceptions too. */
function isExcepted(allowed: BlockList, ip: string): boolean {
  const bytes = parseAddress(ip);
  if (!bytes) return false;
  if (bytes.length === 4) return allowed.check(formatV4(bytes), 'ipv4');
  const standIn = standInV4(bytes);
  if (standIn && allowed.check(formatV4(standIn), 'ipv4')) return true;
  return allowed.check(ip, 'ipv6');
}

/** `10.1.2.3`, `10.0.0.0/8` or `fd00::/8`; throws a RangeError naming the bad entry. */
export function addException(list: BlockList, entry: string): void {
  const [address = '', prefixText] = entry.trim().split('/');
  const family = isIP(address);
  if (family === 0) throw new RangeError(`'${entry}' is not an IP address or CIDR`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (prefixText === undefined) {
    list.addAddress(address, type);
    return;
  }
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) throw new RangeError(`'${entry}' has an invalid prefix length`);
  list.addSubnet(address, prefix, type);
}
