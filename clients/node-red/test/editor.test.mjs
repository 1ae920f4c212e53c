// SPDX-License-Identifier: MIT
// The package as a user gets it, in Node-RED's editor.
//
// npm pack makes the tarball (its file list checked), which is installed
// into an empty Node-RED user folder with the network off, from a cache
// filled first.  Node-RED runs from there; Debian's Chromium, driven by
// playwright-core, drags "siot send" from the palette, wires it between an
// inject and a debug node, adds a "siot device" with its key typed in,
// deploys, presses the inject button and reads the debug sidebar, while a
// real siotd's simulated chip shows the LED's level.  The key must be in
// no file Node-RED writes in the clear.  A screenshot goes to the build
// folder.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cleanup, freePort, installOffline, makeKey, pack, siotdMissing, startSiotd, tempDir,
} from '../../node/test/helpers.js';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const PKG = resolve(here, '..');
const BUILD = process.env.SIOT_BUILD_DIR ?? resolve(PKG, '..', '..', 'build');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Why the editor test cannot run here, or null; in CI it must. */
function missing() {
  const why = siotdMissing() ?? (existsSync(CHROMIUM) ? null
    : `no Chromium at ${CHROMIUM} (Debian: apt install chromium)`);
  if (why && process.env.CI) throw new Error(why + ': CI must run this test');
  return why;
}

/** What npm pack must put in the tarball, and nothing else. */
const EXPECTED_FILES = [
  'README.md', 'package.json',
  'examples/door-sensor-poll.json', 'examples/inject-send-debug.json',
  'nodes/icons/siot.svg',
  'nodes/siot-device.html', 'nodes/siot-device.js', 'nodes/siot-send.html', 'nodes/siot-send.js',
];

const skip = missing();

describe('the packed nodes in Node-RED\'s editor', { skip: skip ?? false }, () => {
  let dir; let sim; let siotd; let port; let key; let red; let redLog = ''; let uiPort;
  let tarball; let userDir;

  before(async () => {
    dir = tempDir();
    sim = join(dir, 'sim');
    mkdirSync(sim);
    let keyPath;
    [keyPath, key] = makeKey(dir, 'alice.key');
    port = await freePort();
    process.env.SIOTD_GPIO_SIM_DIR = sim;
    siotd = await startSiotd(dir, `device_id = "bench";
clients = ( { id = "nodered"; key_file = "${keyPath}"; } );
lines = ( { name = "led"; chip = "sim"; line = 5; direction = "output"; initial = 0; } );
commands = ( { name = "led-on"; gpio = { line = "led"; action = "set"; value = 1; }; } );
`, `127.0.0.1:${port}`);
    delete process.env.SIOTD_GPIO_SIM_DIR;
  });

  after(async () => {
    if (red && red.exitCode === null) {
      red.kill('SIGTERM');
      await new Promise((r) => red.once('exit', r));
    }
    await siotd?.stop();
    if (dir) cleanup(dir);
  });

  test('npm pack holds only what the package needs, siot-client bundled', () => {
    const p = pack(PKG, dir);
    tarball = p.tarball;
    assert.deepEqual(p.files.filter((f) => !f.startsWith('node_modules/')), [...EXPECTED_FILES].sort());
    const bundled = p.files.filter((f) => f.startsWith('node_modules/'));
    assert.deepEqual(p.bundled, ['siot-client']);
    assert.ok(bundled.includes('node_modules/siot-client/src/client.js'), bundled.join('\n'));
    assert.ok(bundled.every((f) => f.startsWith('node_modules/siot-client/')), bundled.join('\n'));
    assert.ok(!bundled.some((f) => f.includes('/test/')), 'no tests of siot-client');
  });

  test('installs from the tarball with the network off', () => {
    userDir = join(dir, 'node-red');
    mkdirSync(userDir);
    installOffline(tarball, dir, userDir);
    const installed = join(userDir, 'node_modules', '@siot', 'node-red-siot');
    assert.ok(existsSync(join(installed, 'node_modules', 'siot-client', 'src', 'index.js')));
  });

  test('drag, configure, deploy, inject: the LED goes on; the key stays out of the flows', async () => {
    assert.ok(userDir, 'the offline install ran');
    uiPort = await freePort();
    writeFileSync(join(userDir, 'settings.js'), `module.exports = {
  uiHost: '127.0.0.1', uiPort: ${uiPort}, flowFile: 'flows.json',
  credentialSecret: 'a test secret', editorTheme: { tours: false },
  telemetry: { enabled: false }, // or a dialog asks about update notifications
  logging: { console: { level: 'info' } },
};
`);
    // The flow the test starts from: an inject and a debug node, unwired.
    writeFileSync(join(userDir, 'flows.json'), JSON.stringify([
      { id: 'f0000000000000a1', type: 'tab', label: 'siot' },
      { id: 'f0000000000000b1', type: 'inject', z: 'f0000000000000a1', name: 'press', props: [],
        repeat: '', once: false, topic: '', x: 140, y: 120, wires: [] },
      { id: 'f0000000000000c1', type: 'debug', z: 'f0000000000000a1', name: 'answer',
        active: true, tosidebar: true, complete: 'payload', targetType: 'msg', x: 700, y: 120,
        wires: [] },
    ]));
    const redJs = require.resolve('node-red/red.js');
    red = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings',
      join(userDir, 'settings.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
    red.stdout.on('data', (d) => { redLog += d; });
    red.stderr.on('data', (d) => { redLog += d; });
    for (let i = 0; i < 600 && !/Started flows/.test(redLog); i++) {
      if (red.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(redLog, /Started flows/, redLog);
    const sets = await (await fetch(`http://127.0.0.1:${uiPort}/nodes`,
      { headers: { Accept: 'application/json' } })).json();
    assert.deepEqual(sets.filter((n) => n.module === '@siot/node-red-siot').map((n) => [n.name, n.enabled, n.version]),
      [['siot-device', true, '0.1.0'], ['siot-send', true, '0.1.0']], JSON.stringify(sets));

    const { chromium } = require('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`http://127.0.0.1:${uiPort}/`);
      const palette = page.locator('.red-ui-palette-node[data-palette-type="siot-send"]');
      await palette.waitFor({ timeout: 60000 });
      await page.locator('[id="f0000000000000b1"]').waitFor();

      // Drag "siot send" from the palette onto the workspace.
      await palette.scrollIntoViewIfNeeded();
      const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
      const from = await palette.boundingBox();
      await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
      await page.mouse.down();
      await page.mouse.move(from.x + from.width / 2 + 10, from.y + from.height / 2 + 5, { steps: 5 });
      await page.mouse.move(chart.x + 400, chart.y + 140, { steps: 25 });
      await page.mouse.up();
      const sendId = await page.evaluate(() => {
        const n = RED.nodes.filterNodes({ type: 'siot-send' });
        return n.length ? n[0].id : null;
      });
      assert.ok(sendId, 'a siot send node was dropped');

      // Its settings: a new siot device, with the key typed in.
      await page.locator(`[id="${sendId}"] .red-ui-flow-node`).dblclick();
      await page.locator('#node-input-command').fill('led-on');
      await page.locator('#node-input-btn-device-add').click();
      await page.locator('#node-config-input-host').fill('127.0.0.1');
      await page.locator('#node-config-input-port').fill(String(port));
      await page.locator('#node-config-input-device').fill('bench');
      await page.locator('#node-config-input-clientId').fill('nodered');
      await page.locator('#node-config-input-key').fill(key.toString('base64'));
      await page.locator('#node-config-dialog-ok').click();
      await page.locator('#node-dialog-ok').click();
      await page.locator('.red-ui-tray').waitFor({ state: 'detached' });

      // Wire inject -> siot send -> debug, port to port.
      async function wire(a, b) {
        const out = await page.locator(`[id="${a}"] .red-ui-flow-port-output .red-ui-flow-port`).boundingBox();
        const inp = await page.locator(`[id="${b}"] .red-ui-flow-port-input .red-ui-flow-port`).boundingBox();
        await page.mouse.move(out.x + out.width / 2, out.y + out.height / 2);
        await page.mouse.down();
        await page.mouse.move(inp.x + inp.width / 2, inp.y + inp.height / 2, { steps: 15 });
        await page.mouse.up();
      }
      await wire('f0000000000000b1', sendId);
      await wire(sendId, 'f0000000000000c1');
      const wires = await page.evaluate((id) => ({
        inject: RED.nodes.node('f0000000000000b1').wires ?? null,
        links: RED.nodes.filterLinks({}).map((l) => [l.source.id, l.target.id]),
        id,
      }), sendId);
      assert.deepEqual(wires.links.sort(), [['f0000000000000b1', sendId], [sendId, 'f0000000000000c1']].sort());

      // Deploy, then press the inject node's button.
      await page.locator('#red-ui-header-button-deploy').click();
      await page.locator('.red-ui-notification', { hasText: 'Successfully deployed' }).waitFor();
      assert.equal(readFileSync(join(sim, 'line5'), 'utf8'), '0\n');
      await page.locator('[id="f0000000000000b1"] .red-ui-flow-node-button').click();

      // The debug sidebar shows the authenticated answer.
      await page.locator('#red-ui-tab-debug-link-button').click();
      const message = page.locator('.red-ui-debug-msg').first();
      await message.waitFor({ timeout: 20000 });
      const shown = await message.innerText();
      assert.match(shown, /status: "ok"/, shown);
      assert.match(shown, /authentic: true/, shown);
      assert.equal(readFileSync(join(sim, 'line5'), 'utf8'), '1\n');
      const status = await page.locator(`[id="${sendId}"] .red-ui-flow-node-status-label`).textContent();
      assert.equal(status, 'ok');

      mkdirSync(BUILD, { recursive: true });
      const shot = join(BUILD, 'node-red-editor.png');
      await page.screenshot({ path: shot });
      process.stdout.write(`# screenshot: ${shot}\n`);
      // After deploy, the editor never has the key again: reloaded, the
      // device's settings show a placeholder, and an export of everything
      // holds no key.
      await page.reload();
      await page.locator(`[id="${sendId}"] .red-ui-flow-node`).waitFor();
      await page.locator(`[id="${sendId}"] .red-ui-flow-node`).dblclick();
      await page.locator('#node-input-btn-device-edit').click();
      const shownKey = await page.locator('#node-config-input-key').inputValue();
      assert.notEqual(shownKey, key.toString('base64'));
      assert.ok(!shownKey.includes(key.toString('base64').slice(0, 12)), shownKey);
      const exported = await page.evaluate(() => JSON.stringify(RED.nodes.createCompleteNodeSet({ credentials: true })));
      assert.ok(exported.includes('siot-device') && !exported.includes(key.toString('base64')));
    } finally {
      await browser.close();
    }

    // The key is a credential: not in the flows file, encrypted beside it,
    // and not in what the admin API hands the editor (or an export).
    const b64 = key.toString('base64');
    const flows = readFileSync(join(userDir, 'flows.json'), 'utf8');
    assert.ok(flows.includes('"siot-device"') && !flows.includes(b64), flows);
    const cred = readFileSync(join(userDir, 'flows_cred.json'), 'utf8');
    assert.ok(!cred.includes(b64) && /"\$":/.test(cred), cred);
    const api = await (await fetch(`http://127.0.0.1:${uiPort}/flows`)).text();
    assert.ok(!api.includes(b64));
    assert.ok(readdirSync(userDir).includes('flows.json'));
  });
});
