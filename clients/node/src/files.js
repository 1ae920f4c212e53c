// SPDX-License-Identifier: MIT
// Private files: key files and broker password files, read with siot-ctl's
// (and ssh's) rule.

import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { homedir } from 'node:os';
import { KeyFileError } from './errors.js';
import { decodeKey } from './protocol.js';

/** The longest key file: 128 hex digits or 88 base64 characters, CR LF. */
const KEY_FILE_MAX = 256;

/** A path with a leading ~/ taken as the home folder, as siot-ctl does. @param {string} path */
export const expandHome = (path) => (path.startsWith('~/') ? homedir() + path.slice(1) : path);

/**
 * Read a private file: a regular file (a symlink's target counts), owned by
 * this user or root, no access at all for group or others.  The file is
 * opened without blocking (a FIFO in its place is refused, not waited on)
 * and the opened descriptor is the one checked and read, so nothing can be
 * swapped in between.  `use` reads the bytes (a buffer wiped afterwards).
 * @template T
 * @param {string} path @param {string} what "key file", "password file"
 * @param {(text: Buffer) => T} use
 * @returns {T}
 */
function readPrivate(path, what, use) {
  const file = expandHome(path);
  let fd;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (e) {
    throw new KeyFileError(`${file}: cannot read ${what}: ${/** @type {Error} */ (e).message}`);
  }
  const text = Buffer.alloc(KEY_FILE_MAX + 1);
  try {
    const st = fstatSync(fd);
    const uid = process.getuid ? process.getuid() : 0;
    if (!st.isFile()) throw new KeyFileError(`${file}: not a regular file`);
    if (st.uid !== uid && st.uid !== 0) throw new KeyFileError(`${file}: owned by uid ${st.uid}; fix: chown ${uid} ${file}`);
    if (st.mode & 0o077) {
      throw new KeyFileError(`${file}: unprotected ${what} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}): group and others must have no access; fix: chmod 600 ${file}`);
    }
    let have = 0;
    for (;;) {
      const n = readSync(fd, text, have, text.length - have, null);
      if (n === 0) break;
      have += n;
      if (have === text.length) break;
    }
    if (have > KEY_FILE_MAX) throw new KeyFileError(`${file}: too large to be a ${what}`);
    return use(text.subarray(0, have));
  } finally {
    text.fill(0);
    closeSync(fd);
  }
}

/**
 * Read a key file with the same rule as siot-ctl (and ssh), and decode it.
 * @param {string} path
 */
export function readKeyFile(path) {
  return readPrivate(path, 'key file', (text) => {
    const key = decodeKey(text.toString('latin1'));
    if (!key) throw new KeyFileError(`${expandHome(path)}: not a key: expected one line of hex or base64 for 16..64 bytes (make one with: siot-client keygen)`);
    return key;
  });
}

/**
 * A broker's password file, checked as a key file is: its one line.
 * @param {string} path
 */
export function readPasswordFile(path) {
  return readPrivate(path, 'password file', (text) => {
    const line = text.toString('utf8').replace(/\r?\n$/, '');
    if (!line || line.includes('\n')) throw new KeyFileError(`${expandHome(path)}: a password file holds one line of text`);
    return line;
  });
}
