// SPDX-License-Identifier: MIT
// The plugin as a user gets it, in a real Homebridge, end to end.
//
// npm pack makes the tarball (its file list checked), installed into an
// empty plugin folder with the network off.  Homebridge 1.11 runs from its
// dev dependency in its normal, secure mode with a test PIN; hap-controller
// pairs with it as the Home app would (SRP), then over HAP's encrypted
// session turns a Switch on (a real siotd's simulated chip shows the pin
// high), reads a Contact sensor as its input line changes, and sees a
// wrong key give HAP's communication failure, never a success.  Restarted,
// Homebridge restores the accessories from its cache.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cleanup, freePort, installOffline, makeKey, pack, siotdMissing, startSiotd, tempDir,
} from '../../node/test/helpers.js';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const PKG = resolve(here, '..');
const PIN = '031-45-154';
const USERNAME = '0E:5A:11:07:00:01';
const COMMUNICATION_FAILURE = -70402;

/** HAP's short form of a type UUID: "49" for 00000049-0000-1000-8000-0026BB765291. */
const short = (t) => String(t).split('-')[0].replace(/^0+/, '').toUpperCase();
const SWITCH = '49'; const ON = '25'; const CONTACT_SENSOR = '80'; const CONTACT_STATE = '6A';
const NAME = '23';
const LOCK = '45'; const LOCK_CURRENT = '1D'; const LOCK_TARGET = '1E';
const GARAGE = '41'; const DOOR_CURRENT = 'E'; const DOOR_TARGET = '32';

const skip = siotdMissing();

describe('the packed plugin in Homebridge, paired with hap-controller', { skip: skip ?? false }, () => {
  let dir; let sim; let siotd; let port; let hb = null; let hbLog = ''; let hapPort;
  let tarball; let plugins; let storage; let pairing; let mute;

  before(async () => {
    dir = tempDir();
    sim = join(dir, 'sim');
    mkdirSync(sim);
    const [keyPath] = makeKey(dir, 'homekit.key');
    port = await freePort();
    process.env.SIOTD_GPIO_SIM_DIR = sim;
    siotd = await startSiotd(dir, `device_id = "shed";
clients = ( { id = "homekit"; key_file = "${keyPath}"; } );
lines = ( { name = "relay"; chip = "sim"; line = 6; direction = "output"; initial = 0; },
          { name = "window"; chip = "sim"; line = 7; direction = "input"; },
          { name = "bolt"; chip = "sim"; line = 8; direction = "output"; initial = 0; },
          { name = "opener"; chip = "sim"; line = 9; direction = "output"; initial = 0; },
          { name = "closed"; chip = "sim"; line = 10; direction = "input"; } );
commands = (
  { name = "relay-on"; gpio = { line = "relay"; action = "set"; value = 1; }; },
  { name = "relay-off"; gpio = { line = "relay"; action = "set"; value = 0; }; },
  { name = "relay-get"; gpio = { line = "relay"; action = "get"; }; },
  { name = "window-get"; gpio = { line = "window"; action = "get"; }; },
  { name = "bolt-lock"; gpio = { line = "bolt"; action = "set"; value = 1; }; },
  { name = "bolt-unlock"; gpio = { line = "bolt"; action = "set"; value = 0; }; },
  { name = "bolt-get"; gpio = { line = "bolt"; action = "get"; }; },
  { name = "door-pulse"; gpio = { line = "opener"; action = "pulse"; value = 1; duration = 0.2; }; },
  { name = "door-closed"; gpio = { line = "closed"; action = "get"; }; }
);
`, `127.0.0.1:${port}`);
    delete process.env.SIOTD_GPIO_SIM_DIR;
    makeKey(dir, 'wrong.key');
    makeKey(dir, 'loose.key', 0o644);
    // A device that is down: it accepts (the kernel's backlog), never says HELLO.
    mute = createServer(() => {});
    await new Promise((res) => mute.listen(0, '127.0.0.1', res));
  });

  after(async () => {
    mute?.close();
    await stopHomebridge();
    await siotd?.stop();
    if (dir) cleanup(dir);
  });

  async function startHomebridge() {
    hbLog = '';
    const bin = join(dirname(require.resolve('homebridge/package.json')), 'bin', 'homebridge');
    hb = spawn(process.execPath, [bin, '-U', storage, '-P', join(plugins, 'node_modules'),
      '--strict-plugin-resolution', '-Q', '-T'], { stdio: ['ignore', 'pipe', 'pipe'] });
    hb.stdout.on('data', (d) => { hbLog += d; });
    hb.stderr.on('data', (d) => { hbLog += d; });
    // The platform binds its accessories once Homebridge has launched
    // (didFinishLaunching, then siot-client's import) and says so.
    for (let i = 0; i < 600 && !/siot: \d+ accessories ready/.test(hbLog); i++) {
      if (hb.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(hbLog, /is running on port/, hbLog);
    assert.match(hbLog, /siot: 7 accessories ready/, hbLog);
  }

  async function stopHomebridge() {
    if (hb && hb.exitCode === null) {
      hb.kill('SIGTERM');
      await new Promise((r) => hb.once('exit', r));
    }
    hb = null;
  }

  /** The characteristic of type char in the service of type service named name: "aid.iid". */
  function find(db, service, char, name) {
    for (const a of db.accessories) {
      for (const s of a.services) {
        if (short(s.type) !== service) continue;
        const n = s.characteristics.find((c) => short(c.type) === NAME);
        if (name && n?.value !== name) continue;
        const c = s.characteristics.find((x) => short(x.type) === char);
        if (c) return `${a.aid}.${c.iid}`;
      }
    }
    throw new Error(`no ${service}/${char} named ${name} in ${JSON.stringify(db)}`);
  }

  test('npm pack holds only what the plugin needs, siot-client bundled', () => {
    const p = pack(PKG, dir);
    tarball = p.tarball;
    assert.deepEqual(p.files.filter((f) => !f.startsWith('node_modules/')),
      ['README.md', 'config.schema.json', 'index.js', 'lib/platform.js', 'package.json']);
    assert.deepEqual(p.bundled, ['siot-client']);
    assert.ok(p.files.includes('node_modules/siot-client/src/queue.js'));
  });

  test('installs from the tarball with the network off', () => {
    plugins = join(dir, 'plugins');
    mkdirSync(plugins);
    installOffline(tarball, dir, plugins);
    assert.ok(existsSync(join(plugins, 'node_modules', '@siot', 'homebridge-siot', 'index.js')));
  });

  test('pairs by PIN; a Switch drives the pin, a Contact sensor follows its line', async () => {
    storage = join(dir, 'homebridge');
    mkdirSync(storage);
    hapPort = await freePort();
    const device = (name, key) => ({ name, host: '127.0.0.1', port, device: 'shed',
      clientId: 'homekit', keyFile: join(dir, key), timeout: 3 });
    writeFileSync(join(storage, 'config.json'), JSON.stringify({
      bridge: { name: 'siot test bridge', username: USERNAME, port: hapPort, pin: PIN,
        bind: ['lo'] },
      platforms: [{
        platform: 'Siot',
        devices: [device('shed', 'homekit.key'), device('impostor', 'wrong.key'),
          device('loose', 'loose.key'), { ...device('down', 'homekit.key'), port: mute.address().port }],
        accessories: [
          { name: 'Shed relay', type: 'switch', device: 'shed', on: 'relay-on', off: 'relay-off', get: 'relay-get' },
          { name: 'Shed window', type: 'contact-sensor', device: 'shed', get: 'window-get', interval: 1 },
          { name: 'Wrong key', type: 'switch', device: 'impostor', on: 'relay-on', off: 'relay-off' },
          { name: 'Loose key', type: 'switch', device: 'loose', on: 'relay-on', off: 'relay-off' },
          { name: 'Down', type: 'switch', device: 'down', on: 'relay-on', off: 'relay-off' },
          { name: 'Shed bolt', type: 'lock', device: 'shed', lock: 'bolt-lock', unlock: 'bolt-unlock', get: 'bolt-get' },
          { name: 'Shed door', type: 'garage-door', device: 'shed', pulse: 'door-pulse', get: 'door-closed', travelTime: 1 },
        ],
      }],
    }, null, 2));
    await startHomebridge();
    const { HttpClient } = require('hap-controller');
    const setup = new HttpClient(USERNAME, '127.0.0.1', hapPort);
    await setup.pairSetup(PIN);
    pairing = setup.getLongTermData();
    setup.close?.();
    const hap = new HttpClient(USERNAME, '127.0.0.1', hapPort, pairing);
    try {
      const db = await hap.getAccessories();
      const relay = find(db, SWITCH, ON, 'Shed relay');
      const windowState = find(db, CONTACT_SENSOR, CONTACT_STATE, 'Shed window');
      const wrong = find(db, SWITCH, ON, 'Wrong key');

      assert.equal(readFileSync(join(sim, 'line6'), 'utf8'), '0\n');
      await hap.setCharacteristics({ [relay]: true });
      assert.equal(readFileSync(join(sim, 'line6'), 'utf8'), '1\n');
      const got = await hap.getCharacteristics([relay]);
      assert.equal(Number(got.characteristics[0].value), 1); // HAP sends true as 1

      // The contact sensor: 1 on its line is contact (0), 0 is none (1).
      for (const [level, state] of [[1, 0], [0, 1]]) {
        writeFileSync(join(sim, 'line7.in'), `${level}\n`);
        const r = await hap.getCharacteristics([windowState]);
        assert.equal(r.characteristics[0].value, state, JSON.stringify(r));
      }

      // A wrong key: HAP's communication failure, and the pin untouched.
      await hap.setCharacteristics({ [relay]: false });
      assert.equal(readFileSync(join(sim, 'line6'), 'utf8'), '0\n');
      let failed;
      try {
        const r = await hap.setCharacteristics({ [wrong]: true });
        failed = r.characteristics?.find((c) => `${c.aid}.${c.iid}` === wrong)?.status;
      } catch (e) {
        failed = e.body?.characteristics?.[0]?.status ?? e.message;
      }
      assert.equal(failed, COMMUNICATION_FAILURE);
      assert.equal(readFileSync(join(sim, 'line6'), 'utf8'), '0\n');
      assert.match(hbLog, /siot: Wrong key: relay-on: /);

      // A key file that others can read is refused, as siot-ctl refuses it.
      assert.match(hbLog, /siot: device "loose": .*loose\.key: unprotected key file \(mode 0644\)/);
      const loose = find(db, SWITCH, ON, 'Loose key');
      const r = await hap.setCharacteristics({ [loose]: true }).catch((e) => e.body ?? e);
      assert.equal(r.characteristics?.[0]?.status, COMMUNICATION_FAILURE, JSON.stringify(r));

      // A device that is down holds up no other device's accessory: the
      // shed's relay is answered while the one on the silent device waits
      // for its timeout (3 s).
      const down = find(db, SWITCH, ON, 'Down');
      const order = [];
      const downDone = new HttpClient(USERNAME, '127.0.0.1', hapPort, pairing)
        .setCharacteristics({ [down]: true }).catch((e) => e).then(() => order.push('down'));
      await new Promise((res) => setTimeout(res, 200));
      await hap.setCharacteristics({ [relay]: true });
      order.push('relay');
      assert.equal(readFileSync(join(sim, 'line6'), 'utf8'), '1\n');
      await downDone;
      assert.deepEqual(order, ['relay', 'down']);
      await hap.setCharacteristics({ [relay]: false });

      // The lock: locked (1) sets the bolt's line, and reads back secured.
      const boltTarget = find(db, LOCK, LOCK_TARGET, 'Shed bolt');
      const boltCurrent = find(db, LOCK, LOCK_CURRENT, 'Shed bolt');
      await hap.setCharacteristics({ [boltTarget]: 1 });
      assert.equal(readFileSync(join(sim, 'line8'), 'utf8'), '1\n');
      assert.equal((await hap.getCharacteristics([boltCurrent])).characteristics[0].value, 1);
      await hap.setCharacteristics({ [boltTarget]: 0 });
      assert.equal((await hap.getCharacteristics([boltCurrent])).characteristics[0].value, 0);

      // The garage door: closed by its sensor; "open" pulses the opener,
      // the door is opening, and once its travel time is over its state
      // is what the sensor says.
      const doorTarget = find(db, GARAGE, DOOR_TARGET, 'Shed door');
      const doorCurrent = find(db, GARAGE, DOOR_CURRENT, 'Shed door');
      writeFileSync(join(sim, 'line10.in'), '1\n');
      assert.equal((await hap.getCharacteristics([doorCurrent])).characteristics[0].value, 1); // closed
      await hap.setCharacteristics({ [doorTarget]: 0 });
      assert.equal((await hap.getCharacteristics([doorCurrent])).characteristics[0].value, 2); // opening
      assert.match(siotd.log(), /command=door-pulse outcome=ok/);
      writeFileSync(join(sim, 'line10.in'), '0\n');
      await new Promise((r) => setTimeout(r, 1800));
      assert.equal((await hap.getCharacteristics([doorCurrent])).characteristics[0].value, 0); // open
    } finally {
      hap.close?.();
    }
  });

  test('restarted, Homebridge restores the accessories from its cache', async () => {
    await stopHomebridge();
    assert.ok(existsSync(join(storage, 'accessories', 'cachedAccessories')));
    await startHomebridge();
    assert.match(hbLog, /siot: Shed relay: restored from the cache/);
    assert.match(hbLog, /siot: Shed window: restored from the cache/);
    const { HttpClient } = require('hap-controller');
    const hap = new HttpClient(USERNAME, '127.0.0.1', hapPort, pairing);
    try {
      const db = await hap.getAccessories();
      const relay = find(db, SWITCH, ON, 'Shed relay');
      await hap.setCharacteristics({ [relay]: true });
      assert.equal(readFileSync(join(sim, 'line6'), 'utf8'), '1\n');
    } finally {
      hap.close?.();
    }
  });
});
