/**
 * The origin fetcher's guard against server-side request forgery. Unless `allowPrivate` is set, a
 * literal IP host is checked up front and every connection — including each redirect hop — goes
 * through an agent that checks the address the host name *resolved to* (so `localhost`,
 * `127.0.0.1.nip.io` or a DNS-rebinding name cannot reach loopback, private networks or the cloud
 * metadata service). Two layers do this: our own `lookup` (which gives the readable reason)
 * wrapped by `request-filtering-agent`. The cloud metadata addresses are refused even where private
 * origins are allowed.
 */
import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import ipaddr from 'ipaddr.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

const CLOUD_METADATA_V4 = '169.254.169.254';

function ipv4Reason(address: ipaddr.IPv4): string | undefined {
  const range = address.range();
  switch (range) {
    case 'unicast':
      return undefined;
    case 'loopback':
      return 'loopback';
    case 'private':
      return 'private network';
    case 'linkLocal':
      return address.toString() === CLOUD_METADATA_V4 ? 'link-local, cloud metadata service' : 'link-local';
    case 'unspecified':
      return 'unspecified';
    case 'carrierGradeNat':
      return 'carrier-grade NAT';
    case 'multicast':
      return 'multicast';
    case 'broadcast':
      return 'broadcast';
    default:
      return `reserved (${range})`;
  }
}

/**
 * Why an origin may not connect to `ip`, or `undefined` when it may (a public unicast address).
 * Refuses loopback, private (RFC 1918), link-local (incl. 169.254.169.254), 0.0.0.0/8, 100.64/10,
 * multicast, broadcast, reserved/documentation ranges, and for IPv6 ::1, ::, fe80::/10, fc00::/7,
 * ff00::/8 and the transition ranges that embed IPv4 addresses. IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) are judged by their IPv4 address.
 */
export function isForbiddenAddress(ip: string): string | undefined {
  const text = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(text);
  } catch {
    return 'not an IP address';
  }
  if (parsed.kind() === 'ipv4') return ipv4Reason(parsed as ipaddr.IPv4);

  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) {
    const reason = ipv4Reason(v6.toIPv4Address());
    return reason === undefined ? undefined : `${reason}, IPv4-mapped`;
  }
  const range = v6.range();
  switch (range) {
    case 'unicast':
      // Deprecated IPv4-compatible addresses (::a.b.c.d): never legitimate on the internet.
      if (v6.parts.slice(0, 6).every((part) => part === 0)) return 'IPv4-compatible';
      return undefined;
    case 'loopback':
      return 'loopback';
    case 'unspecified':
      return 'unspecified';
    case 'linkLocal':
      return 'link-local';
    case 'uniqueLocal':
      return 'unique local, private network';
    case 'multicast':
      return 'multicast';
    case 'rfc6145':
    case 'rfc6052':
    case '6to4':
    case 'teredo':
      return `IPv4 transition range (${range})`;
    default:
      return `reserved (${range})`;
  }
}

class ForbiddenAddressError extends Error {
  readonly code = 'ERR_ORIGIN_ADDRESS_FORBIDDEN';
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`origin address ${address} is not allowed (${reason})`);
    this.name = 'ForbiddenAddressError';
  }
}

/**
 * A `lookup` that resolves every address of the host and refuses the connection if *any* of them
 * is forbidden (so a host cannot mix a public and a private address and hope for the latter).
 * Answers in whichever shape (`all` or single) the caller asked for.
 */
const guardedLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) {
      callback(error, '');
      return;
    }
    for (const { address } of addresses) {
      const reason = isForbiddenAddress(address);
      if (reason) {
        callback(new ForbiddenAddressError(address, reason), '');
        return;
      }
    }
    const first = addresses[0];
    if (!first) {
      const notFound: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      notFound.code = 'ENOTFOUND';
      callback(notFound, '');
      return;
    }
    if (options.all) callback(null, addresses);
    else callback(null, first.address, first.family);
  });
};

// keepAlive off: one image per connection, nothing left open between invocations or after tests.
const guardedAgents = {
  'http:': new RequestFilteringHttpAgent({ keepAlive: false }),
  'https:': new RequestFilteringHttpsAgent({ keepAlive: false }),
};
const plainAgents = {
  'http:': new http.Agent({ keepAlive: false }),
  'https:': new https.Agent({ keepAlive: false }),
};

/** The agent (and lookup) a request goes through: guarded unless private origins are allowed. */
export function connectionOptions(scheme: 'http:' | 'https:', allowPrivate: boolean): Pick<http.RequestOptions, 'agent' | 'lookup'> {
  return allowPrivate ? { agent: plainAgents[scheme] } : { agent: guardedAgents[scheme], lookup: guardedLookup };
}

/** Instance metadata endpoints (AWS IPv4 and IPv6, ECS task metadata). */
const CLOUD_METADATA = new Set(['169.254.169.254', 'fd00:ec2::254', '169.254.170.2']);

/** The host of a URL as an IP literal (IPv6 without brackets), or undefined if it is a name. */
function literalIp(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return net.isIP(host) !== 0 ? host : undefined;
}

/** Why a URL whose host is an IP literal may not be fetched (checked before connecting), or undefined. */
export function literalAddressRefusal(url: URL, allowPrivate: boolean): string | undefined {
  const ip = literalIp(url);
  if (ip === undefined) return undefined;
  if (CLOUD_METADATA.has(ip)) {
    // Never useful as an image origin, even where private origins are allowed (local runs).
    return `origin address ${ip} is not allowed (${isForbiddenAddress(ip) ?? 'cloud metadata service'})`;
  }
  const reason = allowPrivate ? undefined : isForbiddenAddress(ip);
  return reason ? `origin address ${ip} is not allowed (${reason})` : undefined;
}

/** request-filtering-agent's own refusal: "DNS lookup 127.0.0.1(family:4, host:…) is not allowed. …" */
const FILTER_AGENT_MESSAGE = /^DNS lookup (\S+?)\(family:.*is not allowed/;

/** Why the guard refused a connection (our lookup's or request-filtering-agent's error), or undefined for other errors. */
export function connectionRefusal(error: unknown): string | undefined {
  if (error instanceof ForbiddenAddressError) return error.message;
  const message = (error as { message?: unknown } | null | undefined)?.message;
  const filtered = FILTER_AGENT_MESSAGE.exec(typeof message === 'string' ? message : '');
  if (!filtered) return undefined;
  const address = filtered[1] as string;
  return `origin address ${address} is not allowed (${isForbiddenAddress(address) ?? 'private or reserved address'})`;
}
