#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// siot-client: siot-ctl's command line, in Node.js.  Same flags, exit
// statuses and --json objects, so scripts can switch between the two.

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  Connection, KeyFileError, NotAuthenticError, ProtocolMismatchError, SiotError, TimeoutError,
  UnreachableError, UsageError, AbortError,
} from '../src/index.js';
import { reasonFor, reportObject } from '../src/report.js';
import { escapeForTerminal } from '../src/terminal.js';

const USAGE = `Usage: siot-client [-H HOST] [-p PORT] [-U SOCKET] [-D DEVICE] [-i ID] [-k KEYFILE]
                   [-M URL [--mqtt-user NAME] [--mqtt-password-file FILE]
                    [--mqtt-ca-file FILE] [--mqtt-prefix PREFIX]]
                   [--protocol v1|classic] [--hash sha256|sha512] [--tag-length N]
                   [--challenge-length N] [--wakeup-length N] [--framing serial]
                   [-T SECONDS] [--json] [-v]
                   send COMMAND [COMMAND...]
       siot-client keygen [-o FILE]
       siot-client --version

siot-client reads no configuration file: -t, -c and check are siot-ctl's.
-M mqtt://HOST[:PORT] (or mqtts://) sends through an MQTT v5 broker to device
-D; it needs the 'mqtt' package (npm install mqtt).

Exit status: 0 ok, 1 failed, 2 rejected, 3 busy, 4 timeout, 5 error (the device's
answer); 76 not authentic or wrong protocol/device, 69 could not connect,
75 network timeout, 64 usage, 73 keygen could not create the file,
78 configuration (or unsafe key file).
`;

const EXIT = { ok: 0, failed: 1, rejected: 2, busy: 3, timeout: 4, error: 5 };

/** @param {string} msg @returns {never} */
function usageExit(msg) {
  process.stderr.write(`siot-client: ${msg}\n${USAGE}`);
  process.exit(64);
}

/** One line, exit 64: for what siot-ctl has and siot-client does not. @param {string} what @returns {never} */
function notSupported(what) {
  process.stderr.write(`siot-client: ${what} is not supported by siot-client; use -H/-p/-i/-k\n`);
  process.exit(64);
}

/** @param {string | undefined} v @param {string} what */
function int(v, what) {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) usageExit(`${what} must be an integer, not '${v}'`);
  return Number(v);
}

/**
 * One line of --json, keys in siot-ctl's order.
 * @param {{ command: string, status: string, result?: number, output?: Buffer, authentic: boolean, error?: string }} o
 */
function json(o) {
  process.stdout.write(JSON.stringify(reportObject(o)) + '\n');
}

/** Output bytes; on a terminal, escaped as escapeForTerminal says. @param {Buffer} b */
function printOutput(b) {
  if (!process.stdout.isTTY) {
    process.stdout.write(b);
    return;
  }
  process.stdout.write(escapeForTerminal(b));
}

/**
 * The output, introduced by the command's name when there are several:
 * "door: 1", or the name on its own line before output of several lines.
 * @param {string} command @param {Buffer} out @param {boolean} named
 */
function printNamed(command, out, named) {
  if (!named) return printOutput(out);
  const oneLine = out.indexOf(0x0a) === out.length - 1;
  process.stdout.write(oneLine ? `${command}: ` : `${command}:\n`);
  printOutput(out);
  if (out[out.length - 1] !== 0x0a) process.stdout.write('\n');
}

/** @param {unknown} e */
function exitFor(e) {
  if (e instanceof NotAuthenticError || e instanceof ProtocolMismatchError) return 76;
  if (e instanceof UnreachableError) return 69;
  if (e instanceof TimeoutError || e instanceof AbortError) return 75;
  if (e instanceof KeyFileError) return 78;
  if (e instanceof UsageError) return 64;
  return 5;
}

/** @param {string | undefined} path */
function keygen(path) {
  const text = randomBytes(32).toString('base64') + '\n';
  if (!path) {
    process.stdout.write(text);
    return 0;
  }
  let fd;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    const err = /** @type {NodeJS.ErrnoException} */ (e);
    process.stderr.write(`siot-client: ${path}: ${err.message}${err.code === 'EEXIST' ? ' (keygen never overwrites a key)' : ''}\n`);
    return 73;
  }
  writeSync(fd, text);
  fsyncSync(fd);
  closeSync(fd);
  return 0;
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        host: { type: 'string', short: 'H' },
        port: { type: 'string', short: 'p' },
        socket: { type: 'string', short: 'U' },
        mqtt: { type: 'string', short: 'M' },
        'mqtt-user': { type: 'string' },
        'mqtt-password-file': { type: 'string' },
        'mqtt-ca-file': { type: 'string' },
        'mqtt-prefix': { type: 'string' },
        device: { type: 'string', short: 'D' },
        id: { type: 'string', short: 'i' },
        key: { type: 'string', short: 'k' },
        output: { type: 'string', short: 'o' },
        protocol: { type: 'string' },
        hash: { type: 'string' },
        'tag-length': { type: 'string' },
        'challenge-length': { type: 'string' },
        'wakeup-length': { type: 'string' },
        framing: { type: 'string' },
        timeout: { type: 'string', short: 'T' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        // siot-ctl's, accepted only to be refused in one plain line
        target: { type: 'string', short: 't' },
        config: { type: 'string', short: 'c' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return usageExit(/** @type {Error} */ (e).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (v.version) {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    process.stdout.write(`siot-client ${pkg.version}\n`);
    return 0;
  }
  if (v.target !== undefined) notSupported('-t (targets from siot-ctl.conf)');
  if (v.config !== undefined) notSupported('-c (a siot-ctl.conf)');
  const [sub, ...commands] = positionals;
  if (sub === 'check') notSupported('check (of a siot-ctl.conf)');
  if (sub === 'keygen') {
    if (commands.length) usageExit('keygen takes no arguments (use -o FILE)');
    return keygen(v.output);
  }
  if (sub !== 'send') return usageExit(sub ? `unknown command '${sub}'` : 'nothing to do');
  if (!commands.length) return usageExit('send needs at least one command name');
  const seconds = v.timeout === undefined ? 30 : Number(v.timeout);
  if (!(seconds > 0)) return usageExit(`-T takes seconds (more than 0), not '${v.timeout}'`);
  if (!v.host && !v.socket && !v.mqtt) return usageExit('no device to talk to: give -H HOST, -U SOCKET or -M URL');
  if (!v.key) return usageExit('no key: give -k KEYFILE');

  /** @type {Connection} */
  let conn;
  try {
    conn = new Connection({
      host: v.host,
      port: int(v.port, 'port'),
      path: v.socket,
      mqtt: v.mqtt,
      mqttUsername: v['mqtt-user'],
      mqttPasswordFile: v['mqtt-password-file'],
      mqttCaFile: v['mqtt-ca-file'],
      mqttPrefix: v['mqtt-prefix'],
      device: v.device,
      id: v.id,
      keyFile: v.key,
      protocol: /** @type {'v1' | 'classic' | undefined} */ (v.protocol),
      hash: /** @type {'sha256' | 'sha512' | undefined} */ (v.hash),
      tagLength: int(v['tag-length'], '--tag-length'),
      challengeLength: int(v['challenge-length'], '--challenge-length'),
      wakeupLength: int(v['wakeup-length'], '--wakeup-length'),
      framing: /** @type {'stream' | 'serial' | undefined} */ (v.framing),
      timeout: seconds * 1000,
    });
  } catch (e) {
    process.stderr.write(`siot-client: ${/** @type {Error} */ (e).message}\n`);
    return exitFor(e);
  }

  let code = 0;
  let stopped = false;
  try {
    for (const command of commands) {
      if (stopped) {
        if (v.json) json({ command, status: 'not-sent', authentic: false });
        else process.stderr.write(`siot-client: ${command}: not sent\n`);
        continue;
      }
      try {
        const r = await conn.send(command);
        const classicSilent = !r.authentic && r.status === 'rejected';
        const rc = classicSilent ? 2 : EXIT[/** @type {keyof typeof EXIT} */ (r.status)] ?? 5;
        const error = classicSilent ? 'not confirmed: the device closed the connection without a response' : undefined;
        if (v.json) json({ ...r, error });
        else {
          const why = r.authentic ? reasonFor(r.status, r.result) : undefined;
          if (r.output?.length) printNamed(command, r.output, commands.length > 1);
          if (classicSilent) process.stderr.write(`siot-client: ${command}: ${error}\n`);
          else if (rc === 1) process.stderr.write(`siot-client: ${command}: exit ${r.result}\n`);
          else if (why) process.stderr.write(`siot-client: ${command}: ${r.status}: ${why}\n`);
          else if (rc || v.verbose) process.stderr.write(`siot-client: ${command}: ${r.status}\n`);
        }
        if (rc) {
          code = rc;
          stopped = true;
        }
      } catch (e) {
        if (!(e instanceof SiotError)) throw e;
        code = exitFor(e);
        stopped = true;
        if (v.json) json({ command, status: 'error', authentic: false, error: e.message });
        else process.stderr.write(`siot-client: ${command}: ${e.message}\n`);
      }
    }
  } finally {
    conn.destroy();
  }
  return code;
}

main().then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`siot-client: ${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 5;
});
