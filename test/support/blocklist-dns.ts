// A DNS server for tests that stands in for DNS blocklists: it answers A queries from a table
// (query name → the addresses answered) and NXDOMAIN for every other name, so rspamd's monitoring
// query (1.0.0.127.<zone>) finds its list alive. UDP only: blocklist answers are small.
//
//   node dist/test/support/blocklist-dns.js <address> <port> <table.json>
//
// prints "listening" once bound, then each query name and type, and serves until killed.
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as packet from 'dns-packet';

export function serveBlocklists(address: string, port: number, table: Record<string, string[]>, asked: (name: string, type: string) => void = () => undefined): Promise<Socket> {
  const answers = new Map(Object.entries(table).map(([name, values]) => [name.toLowerCase().replace(/\.$/, ''), values]));
  const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (msg, peer) => {
    let query: packet.DecodedPacket;
    try {
      query = packet.decode(msg);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (!question) return;
    asked(question.name, question.type);
    const values = answers.get(question.name.toLowerCase().replace(/\.$/, ''));
    const found = values !== undefined && question.type === 'A';
    const reply = packet.encode({
      id: query.id ?? 0,
      type: 'response',
      flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (values === undefined ? 3 : 0),
      questions: [question],
      answers: found ? values.map((data) => ({ name: question.name, type: 'A' as const, class: 'IN' as const, ttl: 60, data })) : [],
    });
    socket.send(reply, peer.port, peer.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => resolve(socket));
  });
}

if (process.argv[1]?.endsWith('blocklist-dns.js')) {
  const [address = '127.0.0.1', port = '53', tableFile = ''] = process.argv.slice(2);
  const table = JSON.parse(readFileSync(tableFile, 'utf8')) as Record<string, string[]>;
  await serveBlocklists(address, Number(port), table, (name, type) => console.log(`${name} ${type}`));
  console.log('listening');
}
