// SPDX-License-Identifier: MIT
// What siot-client prints on a terminal: output as it is, where it is text a
// terminal shows as text.  The cases are in the repository's
// tests/tty-escape-cases.json, shared with siot-ctl.

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes in the UTF-8 sequence a lead byte starts, or 0 for no lead byte. @param {number} b */
function sequenceLength(b) {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/**
 * C1 controls (U+0080..U+009F) and the bidi embeddings, overrides and
 * isolates (U+202A..U+202E, U+2066..U+2069).
 * @param {number} cp
 */
function unsafeCodePoint(cp) {
  return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/** @param {number} b */
const hexByte = (b) => `\\x${b.toString(16).padStart(2, '0')}`;

/**
 * The text to show for output bytes on a terminal: valid UTF-8 as it is,
 * except C0 controls other than newline and tab, DEL and bytes that are not
 * UTF-8 (\xNN), and C1 controls and bidi controls (\uNNNN).  The decoding is
 * node's own (TextDecoder, fatal); only the choice of what to escape is ours.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function escapeForTerminal(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    if (b < 0x80) {
      out += b === 10 || b === 9 || (b >= 0x20 && b !== 0x7f) ? String.fromCharCode(b) : hexByte(b);
      i++;
      continue;
    }
    const n = sequenceLength(b);
    let ch = null;
    if (n > 0 && i + n <= bytes.length) {
      try {
        ch = strictUtf8.decode(bytes.subarray(i, i + n));
      } catch {
        ch = null;
      }
    }
    if (ch === null) {
      out += hexByte(b);
      i++;
      continue;
    }
    const cp = /** @type {number} */ (ch.codePointAt(0));
    out += unsafeCodePoint(cp) ? `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}` : ch;
    i += n;
  }
  return out;
}
