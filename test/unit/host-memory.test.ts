// The in-memory host later modules test against: files, scripted commands, the call log.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryTransport } from '../../src/host/memory.js';
import { TransportError, type Transport } from '../../src/host/transport.js';

describe('MemoryTransport', () => {
  it('starts with the given files and reads them back', async () => {
    const host: Transport = new MemoryTransport({
      files: { '/etc/os-release': 'ID=debian\n', '/etc/shadow': { content: 'x', mode: '640', group: 'shadow' } },
    });
    assert.equal((await host.get('/etc/os-release'))?.toString(), 'ID=debian\n');
    assert.equal(await host.get('/nope'), undefined);
    assert.deepEqual((host as MemoryTransport).files.get('/etc/shadow'), { content: Buffer.from('x'), mode: '0640', owner: 'root', group: 'shadow' });
  });

  it('records writes per round trip, with modes and owners', async () => {
    const host = new MemoryTransport();
    await host.put('/etc/a', 'A', '0600', 'postfix');
    await host.putMany([{ path: '/etc/b', content: 'B', mode: '0644' }, { path: '/etc/c', content: Buffer.from('C'), mode: '0640', group: 'mail' }]);
    assert.deepEqual(host.putLog, [['/etc/a'], ['/etc/b', '/etc/c']]);
    assert.equal(host.text('/etc/c'), 'C');
    assert.deepEqual(host.files.get('/etc/a'), { content: Buffer.from('A'), mode: '0600', owner: 'postfix', group: 'root' });
    await assert.rejects(host.put('relative', 'x', '0644'), TransportError);
  });

  it('answers commands from its script, later rules first, and logs them', async () => {
    const host = new MemoryTransport()
      .on(/^postfix /, { stdout: 'generic\n' })
      .on('postfix check', { code: 1, stderr: 'warning\n' })
      .on((cmd) => cmd.startsWith('cat '), async (cmd, _opts, h) => ({ stdout: h.text(cmd.slice(4)) ?? '', code: h.files.has(cmd.slice(4)) ? 0 : 1 }));
    await host.put('/etc/x', 'content', '0644');
    assert.deepEqual(await host.exec('postfix check'), { stdout: '', stderr: 'warning\n', code: 1 });
    assert.deepEqual(await host.exec('postfix reload', { sudo: true }), { stdout: 'generic\n', stderr: '', code: 0 });
    assert.equal((await host.exec('cat /etc/x')).stdout, 'content');
    assert.deepEqual(host.commands(), ['postfix check', 'postfix reload', 'cat /etc/x']);
    assert.deepEqual(host.execLog[1]?.opts, { sudo: true });
  });

  it('throws on an unscripted command unless given a fallback', async () => {
    await assert.rejects(new MemoryTransport().exec('rm -rf /'), /no scripted reply for command: rm -rf \//);
    assert.equal((await new MemoryTransport({ fallback: { code: 0 } }).exec('anything')).code, 0);
  });

  it('can fail uploads and refuses work after close', async () => {
    const host = new MemoryTransport();
    host.beforePut = (f) => {
      if (f.path === '/etc/bad') throw new TransportError('connection dropped');
    };
    await assert.rejects(host.putMany([{ path: '/etc/ok', content: '1', mode: '0644' }, { path: '/etc/bad', content: '2', mode: '0644' }]), /connection dropped/);
    assert.equal(host.text('/etc/ok'), '1');
    await host.close();
    await assert.rejects(host.exec('true'), TransportError);
  });
});
