// SPDX-License-Identifier: MIT
// The 256 candidate MACs of the result search, both ways findResult makes
// them (two one-shot hashes per candidate; PBKDF2 with one iteration when
// the prefix ends in three zero bytes), against node:crypto's Hmac, and
// findResult on the batched way for results the vectors do not reach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { buildRequest, candidateMacsBatched, candidateMacsEach, findResult, makeParams } from '../src/protocol.js';

/** @param {'sha256'|'sha512'} hash @param {Buffer} key @param {Buffer} prefix */
function expected(hash, key, prefix) {
  const all = [];
  for (let r = 0; r < 256; r++) all.push(createHmac(hash, key).update(prefix).update(Buffer.from([r])).digest());
  return Buffer.concat(all);
}

/** A random prefix of n bytes whose last three are zero. @param {number} n */
function zeroTail(n) {
  const p = randomBytes(n);
  p.fill(0, n - 3);
  return p;
}

test('both ways give HMAC(key, prefix || r) for every r, key length and block position', () => {
  for (const hash of /** @type {const} */ (['sha256', 'sha512'])) {
    // Prefix lengths around the block boundaries, where the padding of the
    // last block changes (55/56 and 64 for SHA-256, 111/112 and 128 for SHA-512).
    for (const n of [3, 4, 52, 55, 56, 59, 60, 64, 108, 111, 112, 125, 128, 131, 170, 300]) {
      for (const keyLen of [16, 33, 64]) {
        const key = randomBytes(keyLen);
        const prefix = zeroTail(n);
        const want = expected(hash, key, prefix).toString('hex');
        assert.equal(candidateMacsBatched(hash, key, prefix)?.toString('hex'), want, `${hash} batched, ${n} bytes, key ${keyLen}`);
        assert.equal(candidateMacsEach(hash, key, prefix).toString('hex'), want, `${hash} each, ${n} bytes, key ${keyLen}`);
      }
    }
  }
});

test('the batched way refuses a prefix that does not end in three zero bytes', () => {
  const key = randomBytes(32);
  for (const prefix of [Buffer.alloc(0), Buffer.alloc(2), Buffer.from([0, 0, 1]), Buffer.from([1, 0, 0, 0, 5]),
    Buffer.from([7, 1, 0, 0]), Buffer.from([9, 0, 1, 0])]) {
    assert.equal(candidateMacsBatched('sha256', key, prefix), null, prefix.toString('hex'));
  }
  // ...and the other way still serves such a prefix.
  const prefix = Buffer.from([4, 0, 1]);
  assert.equal(candidateMacsEach('sha256', key, prefix).toString('hex'), expected('sha256', key, prefix).toString('hex'));
});

test('the batched way steps aside when PBKDF2 refuses one iteration (a FIPS provider)', () => {
  const key = randomBytes(32);
  const refuse = () => { throw new Error('iteration count too small'); };
  assert.equal(candidateMacsBatched('sha256', key, zeroTail(120), refuse), null);
});

test('findResult finds every result of an OK response without output, and only its own', () => {
  const params = makeParams({ tagLength: 16 });
  const key = randomBytes(32);
  const hello = Buffer.concat([Buffer.from('SIOT', 'ascii'), Buffer.from([1, 1, 16, 32, 6]), randomBytes(32), Buffer.from('device', 'ascii')]);
  const { exchange } = buildRequest(params, key, hello, 'kitchen', 'open');
  const prefix = Buffer.concat([Buffer.from('siot-v1 response\0', 'ascii'), hello, Buffer.from([7]),
    Buffer.from('kitchen', 'ascii'), exchange.tag, Buffer.from([0, 0, 0])]);
  for (const r of [0, 1, 2, 127, 254, 255]) {
    const tag = createHmac('sha256', key).update(prefix).update(Buffer.from([r])).digest().subarray(0, 16);
    assert.equal(findResult(exchange, key, 0, Buffer.alloc(0), tag), r, `result ${r}`);
    // The same tag under another status is not authentic.
    assert.equal(findResult(exchange, key, 1, Buffer.alloc(0), tag), -1, `result ${r}, status 1`);
  }
});

test('findResult keeps the match without a branch on it', () => {
  // Which result matched must not show in the search's timing: the loop
  // compares all 256 candidates and folds the match in with integer masks.
  const src = findResult.toString();
  const loop = src.slice(src.indexOf('for (let r = 0; r < 256'), src.lastIndexOf('return'));
  assert.ok(loop.includes('timingSafeEqual'), loop);
  for (const branch of ['?', 'if (', 'if(', '&&', '||', 'break', 'return']) {
    assert.ok(!loop.includes(branch), `${branch} in the search loop:\n${loop}`);
  }
});

