// DNS over the wire (dns-packet for the message format): one query or one raw exchange with a
// server over UDP (falling back to TCP when truncated) or TCP, and the conversion between answers
// and the presentation-form values DnsRecord uses.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import * as packet from 'dns-packet';
import { absolute, compressIPv6 } from './names.js';
import { splitTxt } from './txt.js';
import type { RecordType } from './types.js';

export interface Server {
  host: string;
  port: number;
}

/** `IP`, `IP:port`, `[IPv6]:port` or a bare IPv6 address. */
export function parseServer(text: string, defaultPort = 53): Server | undefined {
  const t = text.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket) return withPort(bracket[1] ?? '', bracket[2], defaultPort);
  if (isIPv6(t)) return { host: t, port: defaultPort };
  const m = /^([^:]+)(?::(\d+))?$/.exec(t);
  return m ? withPort(m[1] ?? '', m[2], defaultPort) : undefined;
}

function withPort(host: string, port: string | undefined, defaultPort: number): Server | undefined {
  const p = port === undefined ? defaultPort : Number(port);
  return host !== '' && Number.isInteger(p) && p > 0 && p < 65536 ? { host, port: p } : undefined;
}

export function showServer(s: Server): string {
  return isIPv6(s.host) ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

// RFC 1035, 2136 and 8945 (TSIG errors travel in the TSIG record, not the 4-bit header field).
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
const TSIG_ERRORS: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

export function rcodeName(code: number): string {
  return RCODES[code] ?? TSIG_ERRORS[code] ?? `RCODE${code}`;
}

export interface ExchangeOptions {
  tcp?: boolean;
  timeoutMs?: number;
}

/** Sends one raw message and returns the raw response (UDP, or TCP with the 2-byte length prefix). */
export function exchange(server: Server, message: Buffer, opts: ExchangeOptions = {}): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 4000;
  return opts.tcp ? exchangeTcp(server, message, timeoutMs) : exchangeUdp(server, message, timeoutMs);
}

function exchangeUdp(server: Server, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => finish(new Error(`no answer from ${showServer(server)} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | undefined, data?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(data ?? Buffer.alloc(0));
    };
    socket.on('error', (e) => finish(e));
    socket.on('message', (data) => {
      // Ignore stray datagrams whose id is not ours.
      if (data.length >= 2 && data.readUInt16BE(0) === message.readUInt16BE(0)) finish(undefined, data);
    });
    socket.send(message, server.port, server.host);
  });
}

function exchangeTcp(server: Server, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no answer from ${showServer(server)} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | undefined, data?: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(data ?? Buffer.alloc(0));
    };
    socket.on('error', (e) => finish(new Error(`${showServer(server)}: ${e.message}`)));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        finish(undefined, received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.on('end', () => finish(new Error(`${showServer(server)} closed the connection without an answer`)));
    const length = Buffer.alloc(2);
    length.writeUInt16BE(message.length);
    socket.write(Buffer.concat([length, message]));
  });
}

export interface QueryOptions extends ExchangeOptions {
  /** Ask for recursion (a resolver); off when asking an authoritative server directly. */
  recursion?: boolean;
}

/** One query; a truncated UDP answer is retried over TCP. */
export async function query(server: Server, name: string, type: RecordType, opts: QueryOptions = {}): Promise<packet.DecodedPacket> {
  const message = packet.encode({
    type: 'query',
    id: randomInt(0, 65536),
    flags: opts.recursion === false ? 0 : packet.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    // EDNS0 with a 1232-byte buffer (the DNS flag day value) so DKIM keys fit in one datagram.
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
  const response = packet.decode(await exchange(server, message, opts));
  if (!opts.tcp && ((response.flags ?? 0) & packet.TRUNCATED_RESPONSE) !== 0) {
    return packet.decode(await exchange(server, message, { ...opts, tcp: true }));
  }
  return response;
}

/** One found record: its presentation value (as DnsRecord.value writes it), TTL and TXT strings. */
export interface FoundRecord {
  value: string;
  ttl: number;
  /** TXT only: the character-strings as they are on the wire (needed to delete exactly this record). */
  strings?: Buffer[];
}

/** The presentation value of a decoded answer, or undefined for a type mailrig does not read. */
export function presentAnswer(a: packet.Answer): FoundRecord | undefined {
  const ttl = 'ttl' in a ? (a.ttl ?? 0) : 0;
  switch (a.type) {
    case 'A':
      return { value: a.data, ttl };
    case 'AAAA':
      return { value: compressIPv6(a.data), ttl };
    case 'CNAME':
    case 'PTR':
      return { value: absolute(a.data), ttl };
    case 'MX':
      return { value: `${a.data.preference} ${absolute(a.data.exchange)}`, ttl };
    case 'SRV':
      return { value: `${a.data.priority ?? 0} ${a.data.weight ?? 0} ${a.data.port} ${absolute(a.data.target)}`, ttl };
    case 'CAA':
      return { value: `${a.data.flags ?? 0} ${a.data.tag} "${a.data.value}"`, ttl };
    case 'TLSA':
      return { value: `${a.data.usage} ${a.data.selector} ${a.data.matchingType} ${a.data.certificate.toString('hex')}`, ttl };
    case 'TXT': {
      const raw = Array.isArray(a.data) ? a.data : [a.data];
      const strings = raw.map((s) => (Buffer.isBuffer(s) ? s : Buffer.from(s)));
      return { value: Buffer.concat(strings).toString('utf8'), ttl, strings };
    }
    default:
      return undefined;
  }
}

/** A DnsRecord-shaped value as a dns-packet answer, for UPDATE messages. */
export function toAnswer(name: string, type: RecordType, ttl: number, value: string): packet.Answer {
  const f = value.trim().split(/\s+/);
  const num = (i: number) => Number(f[i]);
  const nm = (i: number) => (f[i] ?? '').replace(/\.$/, '');
  const base = { name, ttl, class: 'IN' as const };
  switch (type) {
    case 'A':
    case 'AAAA':
      return { ...base, type, data: value };
    case 'CNAME':
    case 'PTR':
      return { ...base, type, data: nm(0) };
    case 'MX':
      return { ...base, type, data: { preference: num(0), exchange: nm(1) } };
    case 'SRV':
      return { ...base, type, data: { priority: num(0), weight: num(1), port: num(2), target: nm(3) } };
    case 'CAA': {
      const m = /^(\d+)\s+(\S+)\s+"(.*)"$/.exec(value.trim());
      return { ...base, type, data: { flags: Number(m?.[1] ?? 0), tag: (m?.[2] ?? 'issue') as 'issue', value: m?.[3] ?? '' } };
    }
    case 'TLSA':
      return { ...base, type, data: { usage: num(0), selector: num(1), matchingType: num(2), certificate: Buffer.from(f[3] ?? '', 'hex') } };
    case 'TXT':
      return { ...base, type, data: splitTxt(value).map((s) => Buffer.from(s, 'utf8')) };
  }
}
