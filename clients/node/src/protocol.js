// SPDX-License-Identifier: MIT
// The siot wire format (siot-protocol(7)), profiles v1 and classic, client
// side.  Pure functions over Buffers: no I/O.  Every primitive comes from
// node:crypto.

import * as nodeCrypto from 'node:crypto';
import { createDecipheriv, createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { UsageError } from './errors.js';

export const MAGIC = Buffer.from('SIOT', 'ascii');
export const VERSION = 1;
export const DEFAULT_PORT = 7468;
export const MAX_OUTPUT = 4096;
export const SEAL_OVERHEAD = 16;
export const MAX_ID = 32;
export const MAX_COMMAND = 64;

/** @typedef {'sha256' | 'sha512'} HashName */
/** @typedef {'v1' | 'classic'} ProfileName */

/** @type {Record<HashName, { id: number, length: number }>} */
export const HASHES = {
  sha256: { id: 1, length: 32 },
  sha512: { id: 2, length: 64 },
};

/**
 * Parameters both sides configure identically.
 * @typedef {object} Params
 * @property {ProfileName} protocol
 * @property {HashName} hash
 * @property {number} tagLength bytes of each MAC sent (classic: the digest length)
 * @property {number} challengeLength
 * @property {number} wakeupLength
 */

const ID_RE = /^[A-Za-z0-9._-]+$/;

/** @param {string} s */
export function validId(s) {
  return typeof s === 'string' && s.length >= 1 && s.length <= MAX_ID && ID_RE.test(s);
}

/** @param {string} s */
export function validCommand(s) {
  return typeof s === 'string' && s.length >= 1 && s.length <= MAX_COMMAND && ID_RE.test(s);
}

/**
 * Check and complete protocol parameters (defaults as in siot-ctl).
 * @param {{ protocol?: string, hash?: string, tagLength?: number, challengeLength?: number, wakeupLength?: number }} p
 * @returns {Params}
 */
export function makeParams(p = {}) {
  const protocol = p.protocol ?? 'v1';
  const hash = p.hash ?? 'sha256';
  if (protocol !== 'v1' && protocol !== 'classic') throw new UsageError(`protocol must be "v1" or "classic", not "${protocol}"`);
  if (hash !== 'sha256' && hash !== 'sha512') throw new UsageError(`hash must be "sha256" or "sha512", not "${hash}"`);
  const digest = HASHES[hash].length;
  const tagLength = protocol === 'classic' ? digest : (p.tagLength ?? digest);
  if (protocol === 'classic' && p.tagLength !== undefined && p.tagLength !== digest) {
    throw new UsageError('classic always uses the full digest; drop the tag length');
  }
  if (!Number.isInteger(tagLength) || tagLength < 16 || tagLength > digest) throw new UsageError(`tag length must be 16 .. ${digest}`);
  const challengeLength = p.challengeLength ?? 32;
  if (!Number.isInteger(challengeLength) || challengeLength < 16 || challengeLength > 64) throw new UsageError('challenge length must be 16 .. 64');
  const wakeupLength = p.wakeupLength ?? 0;
  if (!Number.isInteger(wakeupLength) || wakeupLength < 0 || wakeupLength > 255) throw new UsageError('wake-up length must be 0 .. 255');
  return { protocol, hash, tagLength, challengeLength, wakeupLength };
}

/**
 * HMAC of the parts, full digest.
 * @param {HashName} hash @param {Buffer} key @param {Buffer[]} parts
 */
export function hmac(hash, key, parts) {
  const h = createHmac(hash, key);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** Block sizes in bytes (RFC 2104's B). */
const BLOCK = { sha256: 64, sha512: 128 };

/**
 * One-shot hash of one buffer: crypto.hash (Node.js >= 20.12), else a Hash.
 * @type {(hash: HashName, data: Buffer) => Buffer}
 */
const hashOnce = typeof nodeCrypto.hash === 'function'
  ? (hash, data) => /** @type {Buffer} */ (nodeCrypto.hash(hash, data, 'buffer'))
  : (hash, data) => createHash(hash).update(data).digest();

/**
 * HMAC per RFC 2104 over one-shot hashes, for the 256-candidate search
 * when it cannot be batched (candidateMacsEach):
 * H((K0 ^ opad) || H((K0 ^ ipad) || m)), with the two padded key blocks
 * made once and each message laid out after its block in one buffer, so a
 * candidate is two calls into node:crypto.  (Copying Hash states part-way
 * would hash less, but each call into node:crypto costs about a microsecond
 * here, more than a SHA-256 compression: measured side by side, 256 tries
 * took 1.5 ms with copies, 1.3 ms with createHmac each and 1.0 ms with two
 * one-shot hashes.)  Proven by RFC 4231's vectors (test/hmac.test.js) and
 * the protocol vectors.
 */
export class HmacBlocks {
  /** @param {HashName} hash @param {Buffer} key */
  constructor(hash, key) {
    const block = BLOCK[hash];
    const k0 = Buffer.alloc(block);
    if (key.length > block) createHash(hash).update(key).digest().copy(k0);
    else key.copy(k0);
    this.hash = hash;
    this.block = block;
    /** K0 ^ ipad */
    this.ipad = Buffer.alloc(block);
    /** K0 ^ opad, then room for the inner digest */
    this.outer = Buffer.alloc(block + HASHES[hash].length);
    for (let i = 0; i < block; i++) {
      this.ipad[i] = k0[i] ^ 0x36;
      this.outer[i] = k0[i] ^ 0x5c;
    }
    k0.fill(0);
  }

  /**
   * A buffer holding K0 ^ ipad, then the parts, then `extra` free bytes for
   * the caller to fill before each macOf().
   * @param {Buffer[]} parts @param {number} [extra]
   */
  inner(parts, extra = 0) {
    return Buffer.concat([this.ipad, ...parts, Buffer.alloc(extra)]);
  }

  /** The MAC of the message laid out by inner(). @param {Buffer} innerBuf */
  macOf(innerBuf) {
    this.outer.set(hashOnce(this.hash, innerBuf), this.block);
    return hashOnce(this.hash, this.outer);
  }

  /** HMAC of the parts. @param {Buffer[]} parts */
  mac(parts) {
    return this.macOf(this.inner(parts));
  }

  /** Wipe the key blocks. */
  wipe() {
    this.ipad.fill(0);
    this.outer.fill(0);
  }
}

/** @param {string} label */
const labelBytes = (label) => Buffer.concat([Buffer.from(label, 'ascii'), Buffer.from([0])]);
const REQUEST = labelBytes('siot-v1 request');
const RESPONSE = labelBytes('siot-v1 response');
const OUTPUT = labelBytes('siot-v1 output');

/** @param {Buffer} b */
const lp = (b) => Buffer.concat([Buffer.from([b.length]), b]);

/**
 * What one exchange binds together: the HELLO as sent (classic: the bare
 * challenge), the client id and the request tag.
 * @typedef {object} Exchange
 * @property {Params} params
 * @property {Buffer} hello
 * @property {Buffer} clientId
 * @property {Buffer} tag
 */

/**
 * Refuse what no request may carry: a name that is not a command name, and
 * in classic a one-character name (a man in the middle could hand back the
 * request digest as the response for such a name).
 * @param {Params} params @param {string} command
 */
export function checkCommand(params, command) {
  if (!validCommand(command)) throw new UsageError(`"${command}" is not a command name (1 to 64 of A-Z a-z 0-9 . _ -)`);
  if (params.protocol === 'classic' && command.length < 2) {
    throw new UsageError(`"${command}": classic refuses one-character command names (a reflected request digest could pass for a response)`);
  }
}

/**
 * The request for `command`.
 * @param {Params} params @param {Buffer} key @param {Buffer} hello
 * @param {string} clientId ignored by classic @param {string} command
 * @returns {{ bytes: Buffer, exchange: Exchange }}
 */
export function buildRequest(params, key, hello, clientId, command) {
  checkCommand(params, command);
  if (params.protocol === 'classic') {
    const tag = hmac(params.hash, key, [hello, Buffer.from(command, 'ascii')]);
    return { bytes: tag, exchange: { params, hello, clientId: Buffer.alloc(0), tag } };
  }
  if (!validId(clientId)) throw new UsageError(`client id "${clientId}": use 1 to 32 of A-Z a-z 0-9 . _ -`);
  const id = Buffer.from(clientId, 'ascii');
  const tag = hmac(params.hash, key, [REQUEST, hello, lp(id), Buffer.from(command, 'ascii')]).subarray(0, params.tagLength);
  return { bytes: Buffer.concat([lp(id), tag]), exchange: { params, hello, clientId: id, tag } };
}

/**
 * The response MAC input up to, not including, the result byte.
 * @param {Exchange} ex @param {number} status @param {Buffer} sealed
 */
function responsePrefix(ex, status, sealed) {
  const head = Buffer.alloc(3);
  head[0] = status;
  head.writeUInt16BE(sealed.length ? sealed.length - SEAL_OVERHEAD : 0, 1);
  return [RESPONSE, ex.hello, lp(ex.clientId), ex.tag, head, sealed];
}

/**
 * The HMACs of `prefix || u8(r)` for r = 0 .. 255, whole digests one after
 * another, each candidate costing two one-shot hashes: the key blocks and
 * the prefix are laid out once and each candidate fills in its byte.
 * @param {HashName} hash @param {Buffer} key @param {Buffer} prefix
 */
export function candidateMacsEach(hash, key, prefix) {
  const len = HASHES[hash].length;
  const out = Buffer.alloc(256 * len);
  const blocks = new HmacBlocks(hash, key);
  const buf = blocks.inner([prefix], 1);
  for (let r = 0; r < 256; r++) {
    buf[buf.length - 1] = r;
    blocks.macOf(buf).copy(out, r * len);
  }
  buf.fill(0);
  blocks.wipe();
  return out;
}

/**
 * The same 256 HMACs in two calls into node:crypto, for a prefix whose last
 * three bytes are zero (a v1 response with status OK and no output):
 * PBKDF2 with one iteration makes block i as HMAC(P, S || INT(i)), INT(i)
 * being i in four big-endian bytes (RFC 8018, 5.2), so with S the prefix
 * less its three zero bytes, blocks 1 .. 255 are the candidates 1 .. 255;
 * candidate 0 is one more HMAC.  Each call into node:crypto costs more than
 * the hashing here (512 one-shot hashes took 1.1 ms, this 0.2 ms).  Returns
 * null for any other prefix, and when PBKDF2 refuses one iteration (as
 * OpenSSL's FIPS provider does): the caller then hashes each candidate.
 * @param {HashName} hash @param {Buffer} key @param {Buffer} prefix
 * @param {typeof pbkdf2Sync} [pbkdf2] node:crypto's, unless a test stands in
 */
export function candidateMacsBatched(hash, key, prefix, pbkdf2 = pbkdf2Sync) {
  const n = prefix.length;
  if (n < 3 || prefix[n - 3] !== 0 || prefix[n - 2] !== 0 || prefix[n - 1] !== 0) return null;
  const len = HASHES[hash].length;
  let blocks;
  try {
    blocks = pbkdf2(key, prefix.subarray(0, n - 3), 1, 255 * len, hash);
  } catch {
    return null;
  }
  const out = Buffer.alloc(256 * len);
  hmac(hash, key, [prefix, Buffer.alloc(1)]).copy(out, 0);
  blocks.copy(out, len);
  return out;
}

/**
 * Find the unsent result byte: all 256 candidates are computed and each
 * compared in constant time, with no early exit.  Returns the result, or -1
 * when none matches (the response is not authentic).  Which way the
 * candidates are computed depends only on bytes sent in the clear (the
 * status and the output's length), never on the result.
 * @param {Exchange} ex @param {Buffer} key @param {number} status
 * @param {Buffer} sealed @param {Buffer} tag
 */
export function findResult(ex, key, status, sealed, tag) {
  const { hash, tagLength, protocol } = ex.params;
  const prefix = Buffer.concat(protocol === 'classic' ? [ex.hello] : responsePrefix(ex, status, sealed));
  const want = protocol === 'classic' ? HASHES[hash].length : tagLength;
  if (tag.length !== want) return -1;
  const len = HASHES[hash].length;
  const macs = candidateMacsBatched(hash, key, prefix) ?? candidateMacsEach(hash, key, prefix);
  // No early exit: every candidate is computed and compared, and which one
  // matched is kept with integer masks, not a branch (a conditional here
  // could be compiled to a jump whose timing says which result matched;
  // that byte is not sent, so that nobody on the wire learns it).
  // `found` holds r + 1 of the match, 0 for none.
  let found = 0;
  for (let r = 0; r < 256; r++) {
    const eq = timingSafeEqual(macs.subarray(r * len, r * len + want), tag);
    const mask = -(+eq); // -1 when equal, 0 when not
    found = (found & ~mask) | ((r + 1) & mask);
  }
  return found - 1;
}

/**
 * Open sealed output with K_out = H(K, "siot-v1 output" 0 HELLO tag)[0..32).
 * Returns the plaintext, or null when it does not authenticate.
 * @param {Exchange} ex @param {Buffer} key @param {Buffer} sealed
 */
export function openOutput(ex, key, sealed) {
  if (sealed.length === 0) return Buffer.alloc(0);
  const kOut = hmac(ex.params.hash, key, [OUTPUT, ex.hello, ex.tag]).subarray(0, 32);
  const body = sealed.subarray(0, sealed.length - SEAL_OVERHEAD);
  const authTag = sealed.subarray(sealed.length - SEAL_OVERHEAD);
  try {
    const d = createDecipheriv('chacha20-poly1305', kOut, Buffer.alloc(12), { authTagLength: SEAL_OVERHEAD });
    d.setAuthTag(authTag);
    return Buffer.concat([d.update(body), d.final()]);
  } catch {
    return null;
  } finally {
    kOut.fill(0);
  }
}

const HEX_RE = /^[0-9A-Fa-f]+$/;
const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decode a key file's text: one line, hex (32..128 digits, even) or strict
 * standard base64 with padding, for 16..64 bytes.  Returns null otherwise.
 * @param {string} text
 */
export function decodeKey(text) {
  let line = text;
  if (line.endsWith('\n')) line = line.slice(0, -1);
  if (line.endsWith('\r')) line = line.slice(0, -1);
  if (line.includes('\n') || line.includes('\r')) return null;
  let key;
  if (line.length >= 32 && line.length <= 128 && line.length % 2 === 0 && HEX_RE.test(line)) {
    key = Buffer.from(line, 'hex');
  } else if (line.length % 4 === 0 && B64_RE.test(line)) {
    key = Buffer.from(line, 'base64');
    if (key.toString('base64') !== line) return null; // non-canonical padding bits
  } else {
    return null;
  }
  return key.length >= 16 && key.length <= 64 ? key : null;
}
