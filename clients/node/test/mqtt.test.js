// SPDX-License-Identifier: MIT
// Through a real MQTT broker (mosquitto, started here on a free loopback
// port) to a real siotd: the library and the CLI, the broker's failures,
// and the clear error without the optional 'mqtt' package.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotAuthenticError, UnreachableError, UsageError, send } from '../src/index.js';
import { ROOT, cleanup, cli, freePort, makeKey, script, siotdMissing, startSiotd, tempDir } from './helpers.js';

const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));
function mosquittoMissing() {
  if (MOSQUITTO) return null;
  if (process.env.CI) throw new Error('no mosquitto: CI must run these tests');
  return 'needs mosquitto (apt install mosquitto)';
}
const skip = siotdMissing() ?? mosquittoMissing();

/** mosquitto on a free loopback port; resolves when it listens. */
async function startBroker(dir) {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child = spawn(/** @type {string} */ (MOSQUITTO), ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  for (let i = 0; i < 200 && !log.includes('running'); i++) await new Promise((r) => setTimeout(r, 25));
  if (!log.includes('running')) throw new Error('mosquitto did not start:\n' + log);
  return { port, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
}

describe('through an MQTT broker', { skip: skip ?? false }, () => {
  let dir, broker, daemon, keyPath, target;
  before(async () => {
    dir = tempDir();
    broker = await startBroker(dir);
    [keyPath] = makeKey(dir, 'alice.key');
    script(dir, 'ok.sh', `echo ran >> "${dir}/ran"\necho "peer $SIOT_PEER"`);
    daemon = await startSiotd(dir, `device_id = "dev1";
mqtt = { broker = "mqtt://127.0.0.1:${broker.port}"; };
clients = ( { id = "alice"; key_file = "${keyPath}"; } );
commands = ( { name = "ok"; exec = [ "${dir}/ok.sh" ]; output = true; } );
`, `127.0.0.1:${await freePort()}`);
    for (let i = 0; i < 200 && !daemon.log().includes('mqtt: connected'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(daemon.log(), /mqtt: connected/);
    target = { mqtt: `mqtt://127.0.0.1:${broker.port}`, device: 'dev1', id: 'alice', keyFile: keyPath, timeout: 10000 };
  });
  after(async () => {
    await daemon?.stop();
    await broker?.stop();
    cleanup(dir);
  });

  test('a command runs and verifies, one session per command', async () => {
    const r = await send(target, ['ok', 'ok']);
    assert.deepEqual(r.map((x) => [x.status, x.authentic]), [['ok', true], ['ok', true]]);
    assert.match(r[0].output.toString(), /^peer mqtt:[0-9a-f]{32}\n$/);
    assert.notEqual(r[0].output.toString(), r[1].output.toString());
    assert.equal(readFileSync(join(dir, 'ran'), 'utf8'), 'ran\nran\n');
  });

  test('the CLI takes -M, with siot-ctl\'s exit statuses and --json', () => {
    const p = cli(['-M', target.mqtt, '-D', 'dev1', '-i', 'alice', '-k', keyPath, '--json', 'send', 'ok']);
    assert.equal(p.status, 0, p.stderr);
    const o = JSON.parse(p.stdout);
    assert.equal(o.status, 'ok');
    assert.equal(o.authentic, true);
    const q = cli(['-M', target.mqtt, '-i', 'alice', '-k', keyPath, 'send', 'ok']);
    assert.equal(q.status, 64);
    assert.match(q.stderr, /the device id is needed/);
  });

  test('no device subscribed is reported at once', async () => {
    const t0 = Date.now();
    await assert.rejects(send({ ...target, device: 'nobody' }, 'ok'), (e) =>
      e instanceof UnreachableError && /no device is subscribed to siot\/nobody\/in/.test(e.message));
    assert.ok(Date.now() - t0 < 5000);
    const p = cli(['-M', target.mqtt, '-D', 'nobody', '-i', 'alice', '-k', keyPath, 'send', 'ok']);
    assert.equal(p.status, 69, p.stderr);
  });

  test('an outsider\'s request is rejected, and the answer says not verified', async () => {
    const [other] = makeKey(dir, 'other.key');
    await assert.rejects(send({ ...target, keyFile: other }, 'ok'), (e) =>
      e instanceof NotAuthenticError && /refused, not verified/.test(e.message));
  });

  test('a broker that is not there', async () => {
    const port = await freePort();
    await assert.rejects(send({ ...target, mqtt: `mqtt://127.0.0.1:${port}` }, 'ok'), (e) =>
      e instanceof UnreachableError && e.message.startsWith(`cannot connect to mqtt://127.0.0.1:${port}`));
  });
});

describe('without the mqtt package', () => {
  test('a target with mqtt says what to install; the rest needs nothing', async () => {
    // The library's files where no node_modules can be found.
    const d = tempDir();
    try {
      cpSync(join(ROOT, 'src'), join(d, 'src'), { recursive: true });
      writeFileSync(join(d, 'package.json'), '{ "type": "module" }\n');
      const code = `import { send, UsageError } from './src/index.js';
try { await send({ mqtt: 'mqtt://127.0.0.1:1', device: 'd', id: 'a', key: Buffer.alloc(32) }, 'x'); console.log('sent?'); }
catch (e) { console.log(e instanceof UsageError ? 'usage: ' + e.message : 'other: ' + e.message); }`;
      writeFileSync(join(d, 'try.mjs'), code);
      const p = spawnSync(process.execPath, [join(d, 'try.mjs')], { encoding: 'utf8', cwd: d });
      assert.equal(p.status, 0, p.stderr);
      assert.match(p.stdout, /^usage: sending through an MQTT broker needs the 'mqtt' package \(npm install mqtt\)/);
    } finally {
      cleanup(d);
    }
    assert.ok(UsageError);
  });
});
