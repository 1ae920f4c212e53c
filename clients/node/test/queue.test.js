// SPDX-License-Identifier: MIT
// SendQueue against a real siotd: commands to one device go one at a time
// in the order they came; cancel() leaves the waiting ones unsent.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AbortError, SendQueue } from '../src/index.js';
import { cleanup, freePort, makeKey, script, siotdMissing, startSiotd, tempDir } from './helpers.js';

const skip = siotdMissing();

describe('SendQueue', { skip: skip ?? false }, () => {
  let dir; let daemon; let target;
  before(async () => {
    dir = tempDir();
    const [keyPath] = makeKey(dir, 'alice.key');
    const count = script(dir, 'count.sh', `n=$(($(cat "${dir}/n" 2>/dev/null || echo 0) + 1)); echo $n > "${dir}/n"; echo $n`);
    const slow = script(dir, 'slow.sh', `echo x >> "${dir}/slow"; sleep 0.4`);
    const port = await freePort();
    daemon = await startSiotd(dir, `device_id = "q";
clients = ( { id = "alice"; key_file = "${keyPath}"; } );
commands = ( { name = "count"; exec = [ "${count}" ]; output = true; },
             { name = "slow"; exec = [ "${slow}" ]; } );
`, `127.0.0.1:${port}`);
    target = { host: '127.0.0.1', port, device: 'q', id: 'alice', keyFile: keyPath, timeout: 5000 };
  });
  after(async () => {
    await daemon?.stop();
    if (dir) cleanup(dir);
  });

  test('ten at once: answered one at a time, in order', async () => {
    const q = new SendQueue(target);
    const all = await Promise.all(Array.from({ length: 10 }, () => q.push('count')));
    assert.deepEqual(all.map((r) => r.output.toString()), Array.from({ length: 10 }, (_, i) => `${i + 1}\n`));
    assert.equal(q.length, 0);
  });

  test('cancel: the waiting are never sent, only the owner\'s', async () => {
    const q = new SendQueue(target);
    const a = {}; const b = {};
    const first = q.push('slow', { owner: a });
    const waiting = [q.push('slow', { owner: a }), q.push('slow', { owner: a })];
    const other = q.push('count', { owner: b });
    await new Promise((r) => setTimeout(r, 100));
    q.cancel(a, 'stopped');
    for (const w of waiting) await assert.rejects(w, (e) => e instanceof AbortError && e.sent === false);
    await assert.rejects(first, AbortError);
    assert.equal((await other).status, 'ok');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(readFileSync(join(dir, 'slow'), 'utf8'), 'x\n');
  });
});
