// SPDX-License-Identifier: MIT
// Peers that misbehave on purpose, and local refusals: the errors and their
// codes, and the CLI's exit statuses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  Connection, KeyFileError, NotAuthenticError, ProtocolMismatchError, TimeoutError, UnreachableError,
  send,
} from '../src/index.js';
import { cleanup, cli, cliAsync, freePort, makeKey, tempDir } from './helpers.js';

const dir = tempDir();
const [keyPath, key] = makeKey(dir, 'alice.key');
after(() => cleanup(dir));

function hello({ hashId = 1, tag = 32, challenge = 32, device = 'fake' } = {}) {
  return Buffer.concat([Buffer.from('SIOT'), Buffer.from([1, hashId, tag, challenge]), randomBytes(challenge),
    Buffer.from([device.length]), Buffer.from(device)]);
}

/** A server that runs `behaviour(socket)` for each connection. */
async function fake(behaviour) {
  const server = createServer((s) => { s.on('error', () => {}); behaviour(s); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return { port, close: () => new Promise((r) => { server.close(r); server.closeAllConnections?.(); }) };
}

const target = (port, extra = {}) => ({ host: '127.0.0.1', port, id: 'alice', key, ...extra });

test('a forged response is not authentic', async () => {
  const srv = await fake((s) => { s.write(hello()); s.once('data', () => s.end(Buffer.concat([Buffer.from([0, 0, 0]), randomBytes(32)]))); });
  try {
    await assert.rejects(send(target(srv.port), 'ok'), (e) => e instanceof NotAuthenticError && e.code === 'ERR_SIOT_NOT_AUTHENTIC');
    const c = await cliAsync(['-H', '127.0.0.1', '-p', String(srv.port), '-i', 'alice', '-k', keyPath, '--json', 'send', 'ok']);
    assert.equal(c.status, 76);
    const o = JSON.parse(c.stdout);
    assert.equal(o.authentic, false);
    assert.equal('result' in o, false);
  } finally { await srv.close(); }
});

test('another hash is a protocol mismatch naming it', async () => {
  const srv = await fake((s) => s.write(hello({ hashId: 2, tag: 64 })));
  try {
    await assert.rejects(send(target(srv.port), 'ok'), (e) => e instanceof ProtocolMismatchError &&
      e.code === 'ERR_SIOT_PROTOCOL_MISMATCH' && e.field === 'hash' && /sha512/.test(e.message));
    const c = await cliAsync(['-H', '127.0.0.1', '-p', String(srv.port), '-i', 'alice', '-k', keyPath, 'send', 'ok']);
    assert.equal(c.status, 76);
    assert.match(c.stderr, /uses hash sha512/);
  } finally { await srv.close(); }
});

test('another device is refused', async () => {
  const srv = await fake((s) => s.write(hello({ device: 'garage' })));
  try {
    await assert.rejects(send(target(srv.port, { device: 'shed' }), 'ok'), (e) => e instanceof ProtocolMismatchError && e.field === 'device');
  } finally { await srv.close(); }
});

test('a silent server times out quickly', async () => {
  const srv = await fake(() => {});
  try {
    const t0 = Date.now();
    await assert.rejects(send(target(srv.port), 'ok', { timeout: 1000 }), (e) => e instanceof TimeoutError && e.code === 'ERR_SIOT_TIMEOUT');
    assert.ok(Date.now() - t0 < 3000);
    const c = await cliAsync(['-H', '127.0.0.1', '-p', String(srv.port), '-i', 'alice', '-k', keyPath, '-T', '1', 'send', 'ok']);
    assert.equal(c.status, 75);
  } finally { await srv.close(); }
});

test('an unreachable port', async () => {
  const port = await freePort();
  await assert.rejects(send(target(port), 'ok'), (e) => e instanceof UnreachableError && e.code === 'ERR_SIOT_UNREACHABLE');
  const c = cli(['-H', '127.0.0.1', '-p', String(port), '-i', 'alice', '-k', keyPath, 'send', 'ok']);
  assert.equal(c.status, 69);
});

test('an unsafe key file is refused', async () => {
  const [loose] = makeKey(dir, 'loose.key', 0o644);
  await assert.rejects(send({ host: '127.0.0.1', port: 1, id: 'a', keyFile: loose }, 'ok'),
    (e) => e instanceof KeyFileError && e.code === 'ERR_SIOT_KEY_FILE' && /chmod 600/.test(e.message));
  const c = cli(['-H', '127.0.0.1', '-p', '1', '-i', 'alice', '-k', loose, 'send', 'ok']);
  assert.equal(c.status, 78);
});

test('a FIFO as key file is refused at once, a symlink to a key is followed', async () => {
  const fifo = join(dir, 'fifo.key');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  await assert.rejects(send({ host: '127.0.0.1', port: 1, id: 'a', keyFile: fifo }, 'ok'),
    (e) => e instanceof KeyFileError && /not a regular file/.test(e.message));
  const c = cli(['-H', '127.0.0.1', '-p', '1', '-i', 'alice', '-k', fifo, '-T', '1', 'send', 'ok']);
  assert.equal(c.status, 78);
  const link = join(dir, 'link.key');
  symlinkSync(keyPath, link);
  await assert.rejects(send({ host: '127.0.0.1', port: 1, id: 'a', keyFile: link }, 'ok'),
    (e) => e instanceof UnreachableError); // the key was fine; nothing listens on port 1
  const [loose] = makeKey(dir, 'loose2.key', 0o644);
  const looseLink = join(dir, 'loose-link.key');
  symlinkSync(loose, looseLink);
  await assert.rejects(send({ host: '127.0.0.1', port: 1, id: 'a', keyFile: looseLink }, 'ok'),
    (e) => e instanceof KeyFileError && /chmod 600/.test(e.message));
});

test('destroy() wipes the connection\'s copy of the key', async () => {
  const k = Buffer.from(key);
  const conn = new Connection({ host: '127.0.0.1', port: 1, id: 'a', key: k });
  const copy = conn.key;
  assert.deepEqual(copy, k);
  conn.destroy();
  assert.ok(copy.every((b) => b === 0));
  assert.deepEqual(k, key); // the caller's buffer is the caller's
  await assert.rejects(conn.send('ok'), (e) => e.code === 'ERR_SIOT_USAGE');
});

test('classic refuses one-character command names before sending', async () => {
  let got = 0;
  const srv = await fake((s) => { s.write(randomBytes(32)); s.on('data', (d) => { got += d.length; s.write(d); }); });
  try {
    await assert.rejects(send(target(srv.port, { protocol: 'classic' }), 'x'),
      (e) => e.code === 'ERR_SIOT_USAGE' && /one-character/.test(e.message));
    const c = await cliAsync(['-H', '127.0.0.1', '-p', String(srv.port), '-k', keyPath, '--protocol', 'classic', 'send', 'x']);
    assert.equal(c.status, 64);
    assert.equal(got, 0);
  } finally {
    await srv.close();
  }
});

test('keygen: 32 bytes, mode 0600, never overwrites', async () => {
  const { statSync, readFileSync } = await import('node:fs');
  const out = `${dir}/new.key`;
  assert.equal(cli(['keygen', '-o', out]).status, 0);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const text = readFileSync(out, 'utf8');
  assert.equal(Buffer.from(text.trim(), 'base64').length, 32);
  const again = cli(['keygen', '-o', out]);
  assert.equal(again.status, 73);
  assert.match(again.stderr, /never overwrites/);
  assert.equal(readFileSync(out, 'utf8'), text);
});

test('--version, and siot-ctl-only options refused in one line (exit 64)', () => {
  const v = cli(['--version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^siot-client \d+\.\d+\.\d+\n$/);
  for (const args of [['-t', 'garage', 'send', 'x'], ['-c', 'f.conf', 'send', 'x'], ['check']]) {
    const r = cli(args);
    assert.equal(r.status, 64, args.join(' '));
    assert.match(r.stderr, /^siot-client: .* is not supported by siot-client; use -H\/-p\/-i\/-k\n$/, args.join(' '));
    assert.equal(r.stdout, '');
  }
});
