// SPDX-License-Identifier: MIT
// Every vector of siot-vectors.json (computed from siot-protocol(7) by an
// independent implementation), reproduced by this package's client side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRequest, decodeKey, findResult, makeParams, openOutput } from '../src/index.js';
import { readVectors } from './helpers.js';

const V = readVectors();
const hex = (s) => Buffer.from(s, 'hex');

for (const [i, v] of V.v1.entries()) {
  test(`v1 vector ${i}: ${v.hash}/${v.tag_length} ${v.client_id} ${v.command}`, () => {
    const hello = hex(v.hello);
    const params = makeParams({ hash: v.hash, tagLength: v.tag_length, challengeLength: hello[7] });
    const key = hex(v.key);
    const { bytes, exchange } = buildRequest(params, key, hello, v.client_id, v.command);
    assert.equal(bytes.toString('hex'), v.request);
    const resp = hex(v.response);
    const status = resp[0];
    const outLen = resp.readUInt16BE(1);
    const sealed = outLen ? resp.subarray(3, 3 + outLen + 16) : Buffer.alloc(0);
    const tag = resp.subarray(3 + sealed.length);
    assert.equal(status, v.status);
    assert.equal(findResult(exchange, key, status, sealed, tag), v.result);
    assert.equal(openOutput(exchange, key, sealed).toString('hex'), v.output);
    // Every flipped bit of the response is refused.
    for (let bit = 0; bit < resp.length * 8; bit++) {
      const f = Buffer.from(resp);
      f[bit >> 3] ^= 1 << (bit & 7);
      const fl = f.readUInt16BE(1);
      if (fl !== outLen) continue; // a changed length is a different parse
      const fs = fl ? f.subarray(3, 3 + fl + 16) : Buffer.alloc(0);
      const ok = findResult(exchange, key, f[0], fs, f.subarray(3 + fs.length)) >= 0 &&
        openOutput(exchange, key, fs) !== null;
      assert.equal(ok, false, `bit ${bit} flipped still verifies`);
    }
  });
}

for (const [i, v] of V.classic.entries()) {
  test(`classic vector ${i}: ${v.hash}`, () => {
    const challenge = hex(v.challenge);
    const params = makeParams({ protocol: 'classic', hash: v.hash, challengeLength: challenge.length });
    const key = hex(v.key);
    const command = hex(v.command).toString('ascii');
    const { bytes, exchange } = buildRequest(params, key, challenge, '', command);
    assert.equal(bytes.toString('hex'), v.request);
    assert.equal(findResult(exchange, key, 0, Buffer.alloc(0), hex(v.response)), v.result);
  });
}

for (const v of V.negatives) {
  test(`negative: ${v.why}`, () => {
    const hello = hex(v.hello);
    const params = makeParams({ hash: 'sha256', tagLength: hello[6], challengeLength: hello[7] });
    const req = hex(v.request);
    const id = req.subarray(1, 1 + req[0]).toString('ascii');
    for (const command of v.commands) {
      const { bytes } = buildRequest(params, hex(v.key), hello, id, command);
      assert.notEqual(bytes.toString('hex'), v.request, command);
    }
  });
}

test('key decoding: hex and strict base64, 16..64 bytes', () => {
  assert.equal(decodeKey('6818f5f887529c1546935b5fc5a73953cf6cb2c6a0321da95d91550bf0357a86\n').length, 32);
  assert.deepEqual(decodeKey('aBj1+IdSnBVGk1tfxac5U89sssagMh2pXZFVC/A1eoY=\r\n'),
    hex('6818f5f887529c1546935b5fc5a73953cf6cb2c6a0321da95d91550bf0357a86'));
  for (const bad of ['', 'AAAAAAAAAAAAAAAAAAAA', 'aBj1+IdSnBVGk1tfxac5U89sssagMh2pXZFVC/A1eoY',
    'aBj1-IdSnBVGk1tfxac5U89sssagMh2pXZFVC_A1eoY=', 'AAAAAAAAAAAAAAAAAAAAAA==\nAAAAAAAAAAAAAAAAAAAAAA==\n',
    ' AAAAAAAAAAAAAAAAAAAAAA==']) {
    assert.equal(decodeKey(bad), null, JSON.stringify(bad));
  }
});
