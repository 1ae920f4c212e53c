// SPDX-License-Identifier: MIT
// HmacBlocks (RFC 2104 over one-shot hashes, as findResult uses it)
// against RFC 4231's test cases 1..7 for HMAC-SHA-256 and HMAC-SHA-512, and
// against node:crypto's own Hmac for every siot key length and a split
// message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { HmacBlocks } from '../src/protocol.js';

const hex = (s) => Buffer.from(s, 'hex');
const big = Buffer.alloc(131, 0xaa); // cases 6 and 7: a key longer than a block

// [key, data, HMAC-SHA-256, HMAC-SHA-512, bytes compared (0: all)]
const RFC4231 = [
  [hex('0b'.repeat(20)), hex('4869205468657265'),
    'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    '87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854', 0],
  [hex('4a656665'), hex('7768617420646f2079612077616e7420666f72206e6f7468696e673f'),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737', 0],
  [hex('aa'.repeat(20)), hex('dd'.repeat(50)),
    '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe',
    'fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb', 0],
  [hex('0102030405060708090a0b0c0d0e0f10111213141516171819'), hex('cd'.repeat(50)),
    '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
    'b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd', 0],
  [hex('0c'.repeat(20)), hex('546573742057697468205472756e636174696f6e'),
    'a3b6167473100ee06e0c796c2955552b', '415fad6271580a531d4179bc891d87a6', 16],
  [big, Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First', 'ascii'),
    '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    '80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598', 0],
  [big, Buffer.from('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.', 'ascii'),
    '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    'e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58', 0],
];

for (const [i, [key, data, s256, s512, n]] of RFC4231.entries()) {
  test(`RFC 4231 test case ${i + 1}`, () => {
    for (const [hash, want] of [['sha256', s256], ['sha512', s512]]) {
      const got = new HmacBlocks(/** @type {'sha256'|'sha512'} */ (hash), key).mac([data]);
      assert.equal(got.subarray(0, n || got.length).toString('hex'), want, hash);
    }
  });
}

test('the same MAC as node:crypto for every siot key length, the message in parts', () => {
  for (const hash of /** @type {const} */ (['sha256', 'sha512'])) {
    for (let len = 16; len <= 64; len++) {
      const key = randomBytes(len);
      const parts = [randomBytes(17), randomBytes(1 + len), Buffer.alloc(0), randomBytes(70)];
      const blocks = new HmacBlocks(hash, key);
      const want = createHmac(hash, key).update(Buffer.concat(parts)).digest('hex');
      assert.equal(blocks.mac(parts).toString('hex'), want);
      // Reused: the key blocks are not consumed.
      assert.equal(blocks.mac(parts).toString('hex'), want);
      // The search's way: the last byte filled in after the layout.
      const buf = blocks.inner(parts.slice(0, 3), parts[3].length);
      parts[3].copy(buf, buf.length - parts[3].length);
      assert.equal(blocks.macOf(buf).toString('hex'), want);
    }
  }
});
