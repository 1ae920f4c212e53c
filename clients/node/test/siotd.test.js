// SPDX-License-Identifier: MIT
// The client against a real siotd on loopback (the project's build): every
// status, output, several commands, classic, a Unix socket, cancellation,
// and the CLI's exit statuses and --json objects next to siot-ctl's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, unlinkSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection, KeyFileError, NotAuthenticError, TimeoutError, AbortError, send } from '../src/index.js';
import { cleanup, cli, ctl, freePort, makeKey, script, siotdMissing, startSiotd, tempDir } from './helpers.js';

const skip = siotdMissing();

function commandsFor(dir) {
  const d = dir;
  script(d, 'ok.sh', `echo ran >> "${d}/ran"\nprintf "hello\\n"`);
  script(d, 'fail.sh', `echo fail >> "${d}/ran"\nprintf "disk full\\n"\nexit 3`);
  script(d, 'bin.sh', 'printf "\\377\\000bin"');
  script(d, 'slow.sh', `echo slow >> "${d}/ran"\nsleep 2`);
  script(d, 'hang.sh', 'sleep 60');
  script(d, 'gone.sh', 'true');
  return `commands = (
  { name = "ok"; exec = [ "${d}/ok.sh" ]; output = true; },
  { name = "fail"; exec = [ "${d}/fail.sh" ]; output = true; },
  { name = "bin"; exec = [ "${d}/bin.sh" ]; output = true; },
  { name = "slow"; exec = [ "${d}/slow.sh" ]; },
  { name = "hang"; exec = [ "${d}/hang.sh" ]; timeout = 0.5; },
  { name = "gone"; exec = [ "${d}/gone.sh" ]; },
  { name = "forbidden"; exec = [ "${d}/ok.sh" ]; }
);
`;
}

const ran = (dir) => {
  try { return readFileSync(join(dir, 'ran'), 'utf8').split('\n').filter(Boolean); } catch { return []; }
};

describe('v1 against siotd', { skip: skip ?? false }, () => {
  let dir, daemon, port, keyPath, key, target;
  before(async () => {
    dir = tempDir();
    [keyPath, key] = makeKey(dir, 'alice.key');
    port = await freePort();
    daemon = await startSiotd(dir, `device_id = "nodetest";\nmax_requests = 10;\n` +
      `clients = ( { id = "alice"; key_file = "${keyPath}"; commands = [ "ok", "fail", "bin", "slow", "hang", "gone" ]; } );\n` +
      commandsFor(dir), `127.0.0.1:${port}`);
    target = { host: '127.0.0.1', port, id: 'alice', key, device: 'nodetest' };
  });
  after(async () => { await daemon?.stop(); cleanup(dir); });

  test('ok with output, failed with its exit status', async () => {
    const r = await send(target, 'ok');
    assert.deepEqual(r, { command: 'ok', status: 'ok', result: 0, output: Buffer.from('hello\n'), authentic: true });
    const f = await send(target, 'fail');
    assert.equal(f.status, 'failed');
    assert.equal(f.result, 3);
    assert.equal(f.output.toString(), 'disk full\n');
    assert.deepEqual(ran(dir).slice(-2), ['ran', 'fail']);
  });

  test('rejected (verified), timeout, error, busy', async () => {
    const before = ran(dir).length;
    assert.equal((await send(target, 'forbidden')).status, 'rejected');
    assert.equal((await send(target, 'hang')).status, 'timeout');
    unlinkSync(join(dir, 'gone.sh'));
    assert.equal((await send(target, 'gone')).status, 'error');
    const slow = send(target, 'slow');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await send(target, 'slow')).status, 'busy');
    assert.equal((await slow).status, 'ok');
    assert.equal(ran(dir).length - before, 1); // only the first slow ran
  });

  test('several commands over one connection, stopping at the first failure', async () => {
    const connects = daemon.log().split('\n').length;
    const rs = await send(target, ['ok', 'ok', 'fail', 'ok']);
    assert.deepEqual(rs.map((r) => r.status), ['ok', 'ok', 'failed', 'not-sent']);
    assert.equal(rs[3].authentic, false);
    assert.ok(daemon.log().split('\n').length > connects);
  });

  test('a wrong key is not authentic', async () => {
    await assert.rejects(send({ ...target, key: Buffer.alloc(32, 7) }, 'ok'), (e) => {
      assert.ok(e instanceof NotAuthenticError);
      assert.equal(e.code, 'ERR_SIOT_NOT_AUTHENTIC');
      assert.match(e.message, /refused, not verified/);
      return true;
    });
  });

  test('an AbortSignal cancels; a timeout says so', async () => {
    const ac = new AbortController();
    const p = send(target, 'slow', { signal: ac.signal });
    setTimeout(() => ac.abort(), 300);
    await assert.rejects(p, (e) => e instanceof AbortError && e.code === 'ERR_SIOT_ABORTED' && e.sent === true);
    await new Promise((r) => setTimeout(r, 2500)); // let that slow run finish
    await assert.rejects(send(target, 'slow', { timeout: 500 }),
      (e) => e instanceof TimeoutError && e.code === 'ERR_SIOT_TIMEOUT' && /may still have run/.test(e.message));
    await new Promise((r) => setTimeout(r, 2000));
  });

  test('a key file is read once per target, and again when it changes', async () => {
    const file = join(dir, 'alice-copy.key');
    writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600 });
    const t = { ...target, key: undefined, keyFile: file };
    assert.equal((await send(t, 'ok')).status, 'ok');
    assert.equal((await send(t, 'ok')).status, 'ok');
    // Made readable by others: refused at the next send, not served from memory.
    chmodSync(file, 0o644);
    await assert.rejects(send(t, 'ok'), (e) => e instanceof KeyFileError && /unprotected/.test(e.message));
    chmodSync(file, 0o600);
    assert.equal((await send(t, 'ok')).status, 'ok');
    // Another key in its place (same size, same mode): used at the next send.
    writeFileSync(file, Buffer.alloc(32, 9).toString('base64') + '\n');
    await assert.rejects(send(t, 'ok'), (e) => e instanceof NotAuthenticError);
    writeFileSync(file, key.toString('base64') + '\n');
    assert.equal((await send(t, 'ok')).status, 'ok');
  });

  test('a Connection object reuses its connection', async () => {
    const c = new Connection(target);
    try {
      assert.equal((await c.send('ok')).status, 'ok');
      assert.equal((await c.send('ok')).status, 'ok');
    } finally {
      c.close();
    }
  });

  test('key as Buffer or key-file text, as siot-ctl decodes it; anything else is a UsageError', async () => {
    const hex = key.toString('hex');
    for (const k of [key, new Uint8Array(key), key.toString('base64') + '\n', hex, hex + '\r\n']) {
      assert.equal((await send({ ...target, key: k }, 'ok')).status, 'ok');
    }
    for (const k of ['not a key', key.toString('base64') + '\n\nextra', 42, { key }, Buffer.alloc(8), null]) {
      assert.throws(() => new Connection({ ...target, key: k }), (e) => e.code === 'ERR_SIOT_USAGE', String(k));
    }
    // The caller's buffer is a copy's source, never wiped by destroy().
    const mine = Buffer.from(key);
    new Connection({ ...target, key: mine }).destroy();
    assert.deepEqual(mine, key);
  });

  test("a Connection's timeout is per send, from that send", async () => {
    const c = new Connection(target, { timeout: 1500 });
    try {
      assert.equal((await c.send('ok')).status, 'ok');
      await new Promise((r) => setTimeout(r, 2000)); // longer than the timeout
      assert.equal((await c.send('ok')).status, 'ok'); // a fresh 1.5 s of its own
      await assert.rejects(c.send('slow'), (e) => e instanceof TimeoutError && e.sent === true);
    } finally {
      c.destroy();
    }
    await new Promise((r) => setTimeout(r, 1000)); // let that slow run finish
  });

  test('the CLI: exit statuses and --json like siot-ctl', () => {
    const common = ['-H', '127.0.0.1', '-p', String(port), '-i', 'alice', '-k', keyPath];
    for (const cmds of [['fail'], ['bin'], ['forbidden'], ['fail', 'fail']]) {
      const a = cli([...common, '--json', 'send', ...cmds]);
      const b = ctl([...common, '--json', 'send', ...cmds]);
      assert.equal(a.status, b.status, `${cmds}: ${a.stderr}`);
      assert.deepEqual(a.stdout.trim().split('\n').map((l) => JSON.parse(l)),
        b.stdout.trim().split('\n').map((l) => JSON.parse(l)), cmds.join(' '));
    }
    const h = cli([...common, 'send', 'ok']);
    assert.equal(h.status, 0);
    assert.equal(h.stdout, 'hello\n');
    // Human output as siot-ctl prints it: names with several commands,
    // "exit N", the reason for REJECTED, -v.
    for (const args of [['send', 'ok', 'ok'], ['send', 'ok', 'fail'], ['send', 'forbidden'],
      ['-v', 'send', 'ok', 'ok']]) {
      const a = cli([...common, ...args]);
      const b = ctl([...common, ...args]);
      assert.equal(a.status, b.status, args.join(' '));
      assert.equal(a.stdout, b.stdout, args.join(' '));
      assert.equal(a.stderr.replaceAll('siot-client:', 'siot-ctl:'), b.stderr, args.join(' '));
    }
    assert.equal(cli([...common, 'send', 'ok', 'fail']).stdout, 'ok: hello\nfail: disk full\n');
    const other = makeKey(dir, 'other.key')[0];
    const n = cli(['-H', '127.0.0.1', '-p', String(port), '-i', 'alice', '-k', other, 'send', 'ok']);
    assert.equal(n.status, 76);
    assert.match(n.stderr, /refused, not verified/);
  });
});

describe('classic and Unix socket against siotd', { skip: skip ?? false }, () => {
  let dir, daemon, sock, key, keyPath;
  before(async () => {
    dir = tempDir();
    [keyPath, key] = makeKey(dir, 'alice.key');
    sock = join(dir, 'siotd.sock');
    daemon = await startSiotd(dir, `protocol = "classic";\nhash = "sha512";\n` +
      `clients = ( { id = "alice"; key_file = "${keyPath}"; } );\n` + commandsFor(dir), sock);
  });
  after(async () => { await daemon?.stop(); cleanup(dir); });

  test('classic: result, failure, and a silent close for an unknown command', async () => {
    const t = { path: sock, key, protocol: 'classic', hash: 'sha512' };
    assert.deepEqual(await send(t, 'ok'), { command: 'ok', status: 'ok', result: 0, output: Buffer.alloc(0), authentic: true });
    const f = await send(t, 'fail');
    assert.equal(f.status, 'failed');
    assert.equal(f.result, 3);
    const n = await send({ ...t, key: Buffer.alloc(32, 1) }, 'ok');
    assert.deepEqual(n, { command: 'ok', status: 'rejected', authentic: false });
    const c = cli(['-U', sock, '-k', keyPath, '--protocol', 'classic', '--hash', 'sha512', 'send', 'forbidden-x']);
    assert.equal(c.status, 2);
    assert.match(c.stderr, /not confirmed/);
  });

  test('the Unix socket may be given as socket, as siot-ctl names it', async () => {
    const t = { socket: sock, key, protocol: 'classic', hash: 'sha512' };
    assert.equal((await send(t, 'ok')).status, 'ok');
    assert.throws(() => new Connection({ ...t, path: '/elsewhere' }), (e) => e.code === 'ERR_SIOT_USAGE');
  });
});
