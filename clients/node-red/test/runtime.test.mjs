// SPDX-License-Identifier: MIT
// The nodes in a real Node-RED runtime (node-red-node-test-helper) against
// a real siotd built in the tree, on its simulated GPIO chip.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  cleanup, freePort, makeKey, script, siotdMissing, startSiotd, tempDir,
} from '../../node/test/helpers.js';

const require = createRequire(import.meta.url);
const helper = require('node-red-node-test-helper');
const deviceNode = require('../nodes/siot-device.js');
const sendNode = require('../nodes/siot-send.js');

helper.init(require.resolve('node-red'));

const skip = siotdMissing();

describe('siot send in a Node-RED runtime', { skip: skip ?? false }, () => {
  let dir; let sim; let siotd; let port; let key; let otherKey;

  before(async () => {
    dir = tempDir();
    sim = join(dir, 'sim');
    mkdirSync(sim);
    let keyPath;
    [keyPath, key] = makeKey(dir, 'alice.key');
    [, otherKey] = makeKey(dir, 'other.key');
    const count = script(dir, 'count.sh', `n=$(($(cat "${dir}/n" 2>/dev/null || echo 0) + 1)); echo $n > "${dir}/n"; echo $n`);
    const slow = script(dir, 'slow.sh', `echo x >> "${dir}/slow"; sleep 0.5`);
    port = await freePort();
    process.env.SIOTD_GPIO_SIM_DIR = sim;
    siotd = await startSiotd(dir, `device_id = "bench";
clients = ( { id = "alice"; key_file = "${keyPath}"; } );
lines = ( { name = "led"; chip = "sim"; line = 3; direction = "output"; initial = 0; },
          { name = "door"; chip = "sim"; line = 4; direction = "input"; } );
commands = (
  { name = "led-on"; gpio = { line = "led"; action = "set"; value = 1; }; },
  { name = "led-get"; gpio = { line = "led"; action = "get"; }; },
  { name = "count"; exec = [ "${count}" ]; output = true; },
  { name = "slow"; exec = [ "${slow}" ]; },
  { name = "fail"; exec = [ "/bin/false" ]; }
);
`, `127.0.0.1:${port}`);
    delete process.env.SIOTD_GPIO_SIM_DIR;
  });

  after(async () => {
    await siotd?.stop();
    if (dir) cleanup(dir);
  });

  beforeEach(async () => {
    await helper.unload();
  });

  after(() => helper.unload());

  /** A flow: the device (at port, with key), a send node, a helper node after it. */
  async function load({ command = '', atPort = port, withKey = key, timeout = 5 } = {}) {
    const flow = [
      { id: 'dev', type: 'siot-device', transport: 'tcp', host: '127.0.0.1', port: atPort,
        device: 'bench', clientId: 'alice', protocol: 'v1', timeout },
      { id: 'send', type: 'siot-send', device: 'dev', command, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    await helper.load([deviceNode, sendNode], flow,
      { dev: { key: withKey.toString('base64') } });
    return { send: helper.getNode('send'), out: helper.getNode('out') };
  }

  /** The next message out of the send node, or its error (done(err)). */
  function outcome(send, out) {
    return new Promise((resolve) => {
      out.once('input', (msg) => resolve({ msg }));
      send.once('call:error', (call) => resolve({ error: call.args[0], msg: call.args[1] }));
    });
  }

  function lastStatus(send) {
    return send.status.lastCall.args[0];
  }

  test('ok: the answer reaches msg.payload; the LED is on', async () => {
    const { send, out } = await load({ command: 'led-on' });
    const got = outcome(send, out);
    send.receive({ topic: 't' });
    const { msg, error } = await got;
    assert.equal(error, undefined);
    assert.deepEqual(msg.payload, { command: 'led-on', status: 'ok', result: 0, authentic: true });
    assert.equal(msg.topic, 't');
    assert.equal(readFileSync(join(sim, 'line3'), 'utf8'), '1\n');
    assert.deepEqual(lastStatus(send), { fill: 'green', shape: 'dot', text: 'ok' });
  });

  test('a get: its value in msg.payload, the command from msg.command', async () => {
    const { send, out } = await load();
    const got = outcome(send, out);
    send.receive({ command: 'led-get' });
    const { msg } = await got;
    assert.deepEqual(msg.payload,
      { command: 'led-get', status: 'ok', result: 1, output: '1\n', authentic: true });
  });

  test('a typo\'d command: rejected, in siot-ctl\'s words, payload kept', async () => {
    const { send, out } = await load({ command: 'led-onn' });
    const got = outcome(send, out);
    send.receive({});
    const { msg, error } = await got;
    assert.equal(error.message,
      'siot: led-onn: rejected: no command that this client may run has this name');
    assert.deepEqual(msg.payload, { command: 'led-onn', status: 'rejected', result: 0, authentic: true });
    assert.deepEqual(lastStatus(send), { fill: 'yellow', shape: 'ring', text: 'rejected' });
  });

  test('a failed action: an error with its exit status', async () => {
    const { send, out } = await load({ command: 'fail' });
    const got = outcome(send, out);
    send.receive({});
    const { msg, error } = await got;
    assert.equal(error.message, 'siot: fail: exit 1');
    assert.equal(msg.payload.status, 'failed');
    assert.deepEqual(lastStatus(send), { fill: 'red', shape: 'ring', text: 'failed (exit 1)' });
  });

  test('a wrong key: not authentic, an error, nothing trusted', async () => {
    const { send, out } = await load({ command: 'led-on', withKey: otherKey });
    const got = outcome(send, out);
    send.receive({});
    const { msg, error } = await got;
    assert.match(error.message, /^siot: led-on: /);
    assert.equal(msg.payload.authentic, false);
    assert.equal(msg.payload.status, 'error');
    assert.equal(msg.payload.result, undefined);
    assert.ok(msg.payload.error);
    assert.equal(lastStatus(send).fill, 'red');
    assert.equal(lastStatus(send).text, 'not authentic');
  });

  test('a device that is down: a timeout, in red', async () => {
    // It accepts connections (the kernel's backlog) and never says HELLO.
    const silent = createServer(() => {});
    await new Promise((res) => silent.listen(0, '127.0.0.1', res));
    try {
      const { send, out } = await load({ command: 'led-on', atPort: silent.address().port, timeout: 1 });
      const got = outcome(send, out);
      send.receive({});
      const { msg, error } = await got;
      assert.match(error.message, /^siot: led-on: /);
      assert.equal(msg.payload.status, 'error');
      assert.deepEqual(lastStatus(send), { fill: 'red', shape: 'ring', text: 'timeout' });
    } finally {
      silent.close();
    }
  });

  test('20 messages at once to one device: each answered, in order', async () => {
    writeFileSync(join(dir, 'n'), '0\n');
    const { send, out } = await load({ command: 'count' });
    const seen = [];
    const all = new Promise((resolve, reject) => {
      out.on('input', (msg) => {
        seen.push([msg.seq, msg.payload.output]);
        if (seen.length === 20) resolve();
      });
      send.on('call:error', (call) => reject(call.args[0]));
    });
    for (let i = 1; i <= 20; i++) send.receive({ seq: i });
    await all;
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => [i + 1, `${i + 1}\n`]));
  });

  test('a silent device holds up only its own messages', async () => {
    const silent = createServer(() => {});
    await new Promise((res) => silent.listen(0, '127.0.0.1', res));
    try {
      const flow = [
        { id: 'mute', type: 'siot-device', transport: 'tcp', host: '127.0.0.1',
          port: silent.address().port, device: 'bench', clientId: 'alice', protocol: 'v1', timeout: 3 },
        { id: 'dev', type: 'siot-device', transport: 'tcp', host: '127.0.0.1', port,
          device: 'bench', clientId: 'alice', protocol: 'v1', timeout: 3 },
        { id: 'toMute', type: 'siot-send', device: 'mute', command: 'led-get', wires: [['out']] },
        { id: 'toDev', type: 'siot-send', device: 'dev', command: 'led-get', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ];
      await helper.load([deviceNode, sendNode], flow, {
        mute: { key: key.toString('base64') }, dev: { key: key.toString('base64') },
      });
      const toMute = helper.getNode('toMute');
      const order = [];
      const muteDone = new Promise((res) => toMute.once('call:error', () => { order.push('mute'); res(); }));
      const devDone = new Promise((res) => helper.getNode('out').once('input', () => { order.push('dev'); res(); }));
      toMute.receive({});
      helper.getNode('toDev').receive({});
      await Promise.all([muteDone, devDone]);
      assert.deepEqual(order, ['dev', 'mute']);
    } finally {
      silent.close();
    }
  });

  test('stopping the flow cancels what is still waiting: it is never sent', async () => {
    const { send } = await load({ command: 'slow' });
    for (let i = 0; i < 4; i++) send.receive({});
    await new Promise((r) => setTimeout(r, 200)); // the first is running
    await helper.unload();
    // Long enough for all four (0.5 s each) had they been sent.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(readFileSync(join(dir, 'slow'), 'utf8'), 'x\n');
  });
});
