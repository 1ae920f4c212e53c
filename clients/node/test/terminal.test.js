// SPDX-License-Identifier: MIT
// Terminal escaping: every case of the repository's tests/tty-escape-cases.json,
// which siot-ctl's tests read too; and the CLI on a real pseudo-terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { escapeForTerminal } from '../src/terminal.js';

const here = dirname(fileURLToPath(import.meta.url));
const { cases } = JSON.parse(readFileSync(join(here, '..', '..', '..', 'tests', 'tty-escape-cases.json'), 'utf8'));

test('every shared terminal case', () => {
  assert.ok(cases.length >= 20);
  for (const c of cases) {
    assert.equal(escapeForTerminal(Buffer.from(c.hex, 'hex')), c.terminal, c.name);
  }
});
