/** Which addresses count as public: every special-purpose range, in every spelling, is not. */
import { describe, expect, it } from 'vitest';
import { createAddressFilter, isPublicAddress } from '../src/net/address-policy.js';

/** Teredo writes the client's IPv4 address inverted into the last 32 bits. */
const teredo = (server: string, client: string) => `2001:0:${hexPair(server)}:8000:63bf:${hexPair(client, 0xff)}`;
function hexPair(v4: string, xor = 0): string {
  const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map((n) => Number(n) ^ xor);
  return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

const REFUSED_V4 = [
  '0.0.0.0',
  '0.1.2.3',
  '10.0.0.1',
  '10.255.255.255',
  '100.64.0.1',
  '100.127.255.255',
  '127.0.0.1',
  '127.255.255.254',
  '169.254.169.254',
  '172.16.0.1',
  '172.31.255.255',
  '192.0.0.1',
  '192.0.0.170',
  '192.0.2.1',
  '192.31.196.1',
  '192.52.193.1',
  '192.88.99.1',
  '192.168.1.1',
  '192.175.48.1',
  '198.18.0.1',
  '198.19.255.255',
  '198.51.100.1',
  '203.0.113.1',
  '224.0.0.1',
  '239.255.255.250',
  '240.0.0.1',
  '255.255.255.255',
];

const REFUSED_V6 = [
  // unspecified, loopback and the deprecated IPv4-compatible form
  '::',
  '::1',
  '0:0:0:0:0:0:0:1',
  '0000:0000:0000:0000:0000:0000:0000:0001',
  '::127.0.0.1',
  '::7f00:1',
  '::8.8.8.8',
  // IPv4-mapped, in every spelling
  '::ffff:7f00:1',
  '::ffff:127.0.0.1',
  '::FFFF:7F00:1',
  '::FFFF:127.0.0.1',
  '0:0:0:0:0:ffff:7f00:0001',
  '0000:0000:0000:0000:0000:FFFF:7F00:0001',
  '0:0:0:0:0:ffff:127.0.0.1',
  '::0:ffff:7f00:1',
  '::ffff:a9fe:a9fe',
  '::ffff:169.254.169.254',
  '::ffff:a00:1',
  '::ffff:0:0',
  '::ffff:c0a8:101',
  // IPv4-translated
  '::ffff:0:7f00:1',
  '::ffff:0:127.0.0.1',
  '0:0:0:0:ffff:0:a9fe:a9fe',
  // NAT64, well-known prefix with a private IPv4 address; local-use prefix whatever it carries
  '64:ff9b::7f00:1',
  '64:ff9b::127.0.0.1',
  '64:FF9B::A9FE:A9FE',
  '0064:ff9b:0000:0000:0000:0000:0a00:0001',
  '64:ff9b:1::808:808',
  '64:ff9b:1:ffff::1',
  // 6to4 with a non-public IPv4 router
  '2002:7f00:1::1',
  '2002:a9fe:a9fe::',
  '2002:0a00:0001:1::1',
  '2002:c0a8:101::1',
  '2002::1',
  // Teredo with a non-public server or client
  teredo('10.0.0.1', '8.8.8.8'),
  teredo('8.8.8.8', '127.0.0.1'),
  teredo('65.54.227.120', '169.254.169.254'),
  '2001:0:4136:e378:8000:63bf:3fff:fdd2', // RFC 4380's example: client in 192.0.2.0/24
  '2001:0:4136:e378::', // client 255.255.255.255
  // the rest of the special-purpose registry
  '100::1',
  '100:0:0:1::1',
  '2001:1::1',
  '2001:2::1',
  '2001:3::1',
  '2001:10::1',
  '2001:1ff:ffff::1',
  '2001:db8::1',
  '2001:DB8:ffff::1',
  '2620:4f:8000::1',
  '3fff::1',
  '3fff:fff::1',
  '5f00::1',
  'fc00::1',
  'fd12:3456::1',
  'fe80::1',
  'febf::1',
  'fec0::1',
  'feff::1',
  'ff02::1',
  'ff0e::1',
  // not allocated for unicast
  '1000::1',
  '4000::1',
  'e000::1',
];

const MALFORMED = ['', 'not-an-ip', 'localhost', '010.0.0.1', '1.2.3', '256.1.1.1', 'fe80::1%eth0', '1::2::3', '::ffff:127.0.0.01', '[::1]'];

const PUBLIC = [
  '8.8.8.8',
  '1.1.1.1',
  '11.0.0.1',
  '100.128.0.1',
  '169.253.1.1',
  '172.32.0.1',
  '192.0.3.1',
  '192.88.98.1',
  '198.20.0.1',
  '223.255.255.255',
  '2606:4700:4700::1111',
  '2a00:1450::1',
  '2001:4860:4860::8888',
  '2001:200::1', // just past 2001::/23
  '2620:4f:8001::1', // just past the AS112 /48
  '3fff:1000::1', // just past 3fff::/20
  '::ffff:8.8.8.8',
  '::ffff:808:808',
  '0:0:0:0:0:FFFF:0808:0808',
  '::ffff:0:8.8.8.8',
  '64:ff9b::8.8.8.8',
  '64:ff9b::101:101',
  '2002:0808:0808::1',
  '2002:101:101:1::1',
  teredo('65.54.227.120', '8.8.4.4'),
  teredo('8.8.8.8', '1.1.1.1'),
];

describe('isPublicAddress', () => {
  it.each(REFUSED_V4)('refuses %s', (ip) => expect(isPublicAddress(ip)).toBe(false));
  it.each(REFUSED_V6)('refuses %s', (ip) => expect(isPublicAddress(ip)).toBe(false));
  it.each(MALFORMED)('refuses the malformed %j', (ip) => expect(isPublicAddress(ip)).toBe(false));
  it.each(PUBLIC)('allows %s', (ip) => expect(isPublicAddress(ip)).toBe(true));
});

describe('createAddressFilter: exceptions reach IPv4 addresses wrapped in IPv6', () => {
  const allowed = createAddressFilter(false, ['10.0.0.5', 'fd00:1234::/32']);

  it.each(['10.0.0.5', '::ffff:10.0.0.5', '::ffff:a00:5', '0:0:0:0:0:FFFF:0A00:0005', '::ffff:0:10.0.0.5', '64:ff9b::a00:5', 'fd00:1234::9'])(
    'allows %s',
    (ip) => expect(allowed(ip)).toBe(true),
  );

  // A 6to4 or Teredo address names a host behind that IPv4 router, not the router itself.
  it.each(['10.0.0.6', '::ffff:10.0.0.6', '64:ff9b:1::a00:5', '2002:a00:5::1', teredo('10.0.0.5', '8.8.8.8'), 'fd00:1235::9', '127.0.0.1'])(
    'still refuses %s',
    (ip) => expect(allowed(ip)).toBe(false),
  );
});
