// SPDX-License-Identifier: MIT
// Connections to siot devices over TCP or a Unix socket.

import { statSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { expandHome, readKeyFile } from './files.js';
import { Stream } from './stream.js';
import {
  AbortError, NotAuthenticError, ProtocolMismatchError, SiotError, TimeoutError,
  UnreachableError, UsageError,
} from './errors.js';
import { Broker, checkMqttTarget, describeMqtt } from './mqtt.js';
import {
  DEFAULT_PORT, HASHES, MAGIC, MAX_OUTPUT, SEAL_OVERHEAD, VERSION, buildRequest, checkCommand, decodeKey,
  findResult, makeParams, openOutput, validId,
} from './protocol.js';

/**
 * Where and how to reach a device; the fields mirror siot-ctl's target.
 * @typedef {object} Target
 * @property {string} [host] host name or address (every address is tried)
 * @property {number} [port] TCP port, default 7468
 * @property {string} [path] a Unix socket instead of host/port
 * @property {string} [socket] the same as path (siot-ctl's name for it)
 * @property {string} [device] refuse a device with another id
 * @property {string} [id] client id (v1)
 * @property {Buffer | Uint8Array | string} [key] the key's bytes, or a key file's text, or:
 * @property {string} [keyFile] a key file (must not be accessible to group or others)
 * @property {'v1' | 'classic'} [protocol]
 * @property {'sha256' | 'sha512'} [hash]
 * @property {number} [tagLength]
 * @property {number} [challengeLength]
 * @property {number} [wakeupLength]
 * @property {'stream' | 'serial'} [framing] "serial": a TCP stream bridged to a serial
 *   line (PROTOCOL.md "Serial lines"): every exchange starts with a wake-up, resent every
 *   250 ms until the HELLO comes; wakeupLength defaults to 4 then
 * @property {number} [timeout] milliseconds for each send(), from its start; default 30000
 * @property {boolean} [classicResponse] classic: wait for the confirmation (default true)
 * @property {string} [mqtt] an MQTT v5 broker instead: mqtt://HOST[:PORT] or mqtts://HOST[:PORT]
 *   (needs device; uses the optional peer dependency "mqtt")
 * @property {string} [mqttPrefix] the topics' prefix, default "siot"
 * @property {string} [mqttUsername] the broker login
 * @property {string} [mqttPassword] its password, or:
 * @property {string} [mqttPasswordFile] a file holding it (checked as a key file is)
 * @property {string} [mqttCaFile] mqtts: the CA certificates to trust (PEM)
 */

/**
 * @typedef {'ok' | 'failed' | 'rejected' | 'busy' | 'timeout' | 'error' | 'not-sent'} Status
 */

/**
 * What became of one command.  Responses that do not verify are thrown
 * (NotAuthenticError), never returned.  classic only: a device that closes
 * without confirming comes back as status "rejected" with authentic false
 * ("not confirmed": it proves nothing either way), and with classicResponse
 * false a sent command comes back as "ok" with authentic false.
 * @typedef {object} SendResult
 * @property {string} command
 * @property {Status} status
 * @property {number} [result] exit status, GPIO value, 128 + signal (absent when not sent)
 * @property {Buffer} [output] the action's output (absent when not sent)
 * @property {boolean} authentic
 */

/**
 * @typedef {object} SendOptions
 * @property {AbortSignal} [signal] cancels the exchange (an action may still run)
 * @property {number} [timeout] milliseconds; overrides the target's
 */

const STATUS_NAMES = /** @type {const} */ (['ok', 'failed', 'rejected', 'busy', 'timeout', 'error']);

/**
 * The key of a target: the bytes themselves (a Buffer or Uint8Array of 16
 * to 64 bytes), or the text of a key file, decoded by siot-protocol(7)'s
 * hex-or-base64 rule exactly as siot-ctl decodes a file.  A copy: the
 * caller's buffer is left alone.
 * @param {unknown} key
 */
function keyFrom(key) {
  if (key instanceof Uint8Array) {
    if (key.length < 16 || key.length > 64) throw new UsageError(`a key has 16 to 64 bytes, not ${key.length}`);
    return Buffer.from(key);
  }
  if (typeof key === 'string') {
    const k = decodeKey(key);
    if (!k) throw new UsageError('key text is not a key: expected one line of hex or base64 for 16..64 bytes');
    return k;
  }
  throw new UsageError('key must be a Buffer (the key bytes) or a string (a key file\'s text)');
}

/**
 * Keys read from key files, per target object, with what the file looked
 * like when read.  send() in a loop with the same target reads the file
 * once; a file that changed since (content, owner, mode or the file
 * itself, all of which move its ctime) is read and checked again.
 * @type {WeakMap<object, { file: string, stamp: string, key: Buffer }>}
 */
const fileKeys = new WeakMap();

/** @param {import('node:fs').Stats} st */
const stampOf = (st) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.mode}:${st.uid}`;

/**
 * A copy of the key in target.keyFile (the caller wipes its copy).
 * @param {object} target @param {string} file
 */
function keyFromFile(target, file) {
  let stamp = null;
  try {
    stamp = stampOf(statSync(expandHome(file)));
  } catch {
    // readKeyFile says why
  }
  const cached = fileKeys.get(target);
  if (cached && stamp && cached.file === file && cached.stamp === stamp) return Buffer.from(cached.key);
  if (cached) cached.key.fill(0);
  fileKeys.delete(target);
  const key = readKeyFile(file);
  if (stamp) fileKeys.set(target, { file, stamp, key: Buffer.from(key) });
  return key;
}

/** Serial framing: the default wake-up, and how long to wait before resending it. */
const SERIAL_WAKEUP = 4;
const WAKEUP_RESEND_MS = 250;

/** A signal that never aborts: a Connection's until its first send(). */
const NEVER = new AbortController().signal;

/** A socket's bytes. */
class SocketStream extends Stream {
  /** @param {import('node:net').Socket} socket @param {AbortSignal} signal */
  constructor(socket, signal) {
    super(signal);
    this.socket = socket;
    socket.on('data', (d) => this.feed(d));
    socket.on('end', () => this.end());
    socket.on('close', () => this.end());
    socket.on('error', (e) => this.fail(e));
  }

  /** @param {Buffer} data */
  async write(data) {
    await new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(err) : resolve(undefined)));
    });
  }

  close() {
    this.socket.destroy();
  }
}

/** @param {Target} target */
function describe(target) {
  if (target.mqtt) return describeMqtt(target);
  const path = target.path ?? target.socket;
  if (path) return path;
  const host = target.host ?? '';
  return `${host.includes(':') ? `[${host}]` : host}:${target.port ?? DEFAULT_PORT}`;
}

/**
 * One connection to a device; several commands go over it when the device
 * allows more requests per connection, and it reconnects when it does not.
 */
export class Connection {
  /** @param {Target} target @param {SendOptions} [options] */
  constructor(target, options = {}) {
    if (!target || (!target.host && !target.path && !target.socket && !target.mqtt)) throw new UsageError('a target needs host, path (socket) or mqtt');
    if (target.mqtt && (target.host || target.path || target.socket)) throw new UsageError('give mqtt or host or path, not several');
    if (target.mqtt) checkMqttTarget(target);
    if (target.path && target.socket && target.path !== target.socket) throw new UsageError('give path or socket, not both');
    if (target.framing !== undefined && target.framing !== 'stream' && target.framing !== 'serial') throw new UsageError(`framing must be "stream" or "serial", not "${target.framing}"`);
    /** A wake-up per exchange, resent until the HELLO comes. */
    this.serial = target.framing === 'serial';
    if (this.serial && target.mqtt) throw new UsageError('framing "serial" is for a TCP stream bridged to a serial line, not a broker');
    if (this.serial && target.wakeupLength === 0) throw new UsageError('a serial line needs a wake-up: wakeupLength 1 or more (default 4)');
    this.target = target;
    this.params = makeParams(this.serial && target.wakeupLength === undefined ? { ...target, wakeupLength: SERIAL_WAKEUP } : target);
    if (this.params.protocol === 'v1' && !validId(target.id ?? '')) throw new UsageError('a v1 target needs a valid id');
    if (target.device !== undefined && !validId(target.device)) throw new UsageError(`device "${target.device}" is not a valid device id`);
    /** @type {Buffer | null} this connection's copy of the key (null once destroyed) */
    this.key = target.key !== undefined ? keyFrom(target.key) : target.keyFile ? keyFromFile(target, target.keyFile) : null;
    if (!this.key) throw new UsageError('a target needs key or keyFile');
    const timeout = options.timeout ?? target.timeout ?? 30000;
    if (!(timeout > 0)) throw new UsageError(`timeout must be more than 0 ms, not ${timeout}`);
    /** Each send() gets this long, counted from its start. */
    this.timeoutMs = timeout;
    this.userSignal = options.signal;
    /** The deadline of the send under way (each send() makes its own). */
    this.signal = NEVER;
    /** @type {Stream | null} */
    this.stream = null;
    this.where = describe(target);
    /** @type {boolean} the current stream already carried a request */
    this.reused = false;
    /** @type {Broker | null} the broker's connection (mqtt targets), kept across sends */
    this.broker = null;
  }

  /** A fresh deadline of timeoutMs from now, with the caller's abort. */
  deadline() {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    return this.userSignal ? AbortSignal.any([timeout, this.userSignal]) : timeout;
  }

  /** @param {boolean} sent */
  failure(sent) {
    if (this.userSignal?.aborted) return new AbortError('aborted', sent, this.userSignal.reason);
    return new TimeoutError(sent
      ? `timed out after ${this.timeoutMs / 1000} s waiting for the response of ${this.where}; the command may still have run on the device`
      : `timed out talking to ${this.where}`, sent);
  }

  async open() {
    const t = this.target;
    if (t.mqtt) {
      // One broker connection for this Connection; a session per command.
      if (!this.broker) this.broker = new Broker(t, this.where);
      this.stream = await this.broker.openSession(this.signal, () => this.failure(false));
      this.reused = false;
      return;
    }
    const path = t.path ?? t.socket;
    const socket = path ? netConnect({ path }) : netConnect({ host: t.host, port: t.port ?? DEFAULT_PORT, autoSelectFamily: true });
    await new Promise((resolve, reject) => {
      const onAbort = () => { socket.destroy(); reject(this.failure(false)); };
      if (this.signal.aborted) return onAbort();
      this.signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => { this.signal.removeEventListener('abort', onAbort); resolve(undefined); });
      socket.once('error', (e) => {
        this.signal.removeEventListener('abort', onAbort);
        reject(new UnreachableError(`could not connect to ${this.where}: ${e.message}`, { cause: e }));
      });
    });
    this.stream = new SocketStream(socket, this.signal);
    this.reused = false;
    if (this.params.wakeupLength && !this.serial) await this.stream.write(Buffer.alloc(this.params.wakeupLength));
  }

  /**
   * Serial framing: the wake-up, again every 250 ms until the device
   * answers (a board's reset, noise, an exchange it was finishing); in v1,
   * bytes before the HELLO's first are noise and dropped.
   */
  async wakeUp() {
    const s = /** @type {Stream} */ (this.stream);
    const zeros = Buffer.alloc(this.params.wakeupLength);
    for (;;) {
      await s.write(zeros);
      const got = await s.waitAny(WAKEUP_RESEND_MS);
      if (got === null) throw new UnreachableError(`${this.where} closed the connection before its HELLO`);
      if (got) break;
    }
    if (this.params.protocol === 'v1' && !(await s.skipTo(MAGIC[0]))) {
      throw new UnreachableError(`${this.where} closed the connection before its HELLO`);
    }
  }

  /** @returns {Promise<Buffer | null>} the HELLO, or null at EOF */
  async readHello() {
    const s = /** @type {Stream} */ (this.stream);
    const p = this.params;
    if (p.protocol === 'classic') return s.read(p.challengeLength);
    const magic = await s.read(4);
    if (!magic) return null;
    if (!magic.equals(MAGIC)) throw new ProtocolMismatchError('magic', `${this.where} does not speak siot v1 (wrong magic)`, 'SIOT', magic.toString('latin1'));
    const head = await s.read(4);
    if (!head) return null;
    const [version, hashId, tagLength, challengeLength] = head;
    const hashName = Object.entries(HASHES).find(([, v]) => v.id === hashId)?.[0] ?? `hash id ${hashId}`;
    if (version !== VERSION) throw new ProtocolMismatchError('version', `${this.where} speaks siot protocol version ${version}, not ${VERSION}`, VERSION, version);
    if (hashId !== HASHES[p.hash].id) throw new ProtocolMismatchError('hash', `${this.where} uses hash ${hashName}, this target is configured for ${p.hash}`, p.hash, hashName);
    if (tagLength !== p.tagLength) throw new ProtocolMismatchError('tagLength', `${this.where} uses tag length ${tagLength}, this target is configured for ${p.tagLength}`, p.tagLength, tagLength);
    if (challengeLength !== p.challengeLength) throw new ProtocolMismatchError('challengeLength', `${this.where} uses challenge length ${challengeLength}, this target is configured for ${p.challengeLength}`, p.challengeLength, challengeLength);
    const rest = await s.read(challengeLength + 1);
    if (!rest) return null;
    const d = rest[challengeLength];
    const device = d >= 1 && d <= 32 ? await s.read(d) : null;
    if (!device || !validId(device.toString('latin1'))) throw new ProtocolMismatchError('deviceId', `${this.where} sent an invalid device id`);
    if (this.target.device !== undefined && device.toString('latin1') !== this.target.device) {
      throw new ProtocolMismatchError('device', `${this.where} is device "${device.toString('latin1')}", not "${this.target.device}"`, this.target.device, device.toString('latin1'));
    }
    return Buffer.concat([magic, head, rest, device]);
  }

  /**
   * Send one command and return its authentic outcome.
   * @param {string} command
   * @returns {Promise<SendResult>}
   */
  async send(command) {
    if (!this.key) throw new UsageError('this connection was destroyed');
    checkCommand(this.params, command);
    // The timeout is this send's, from now: a connection kept for hours
    // still gives each command its full time.
    this.signal = this.deadline();
    this.stream?.setSignal(this.signal);
    let sent = false;
    try {
      return await this.#send(command, (v) => { sent = v; });
    } catch (e) {
      // Whatever broke after the deadline or the caller's abort is that.
      if (this.signal.aborted) throw this.failure(sent);
      throw e;
    }
  }

  /**
   * @param {string} command @param {(sent: boolean) => void} mark
   * @returns {Promise<SendResult>}
   */
  async #send(command, mark) {
    const p = this.params;
    /** @type {Buffer | null} */
    let hello = null;
    for (let attempt = 0; attempt < 2 && !hello; attempt++) {
      if (!this.stream) await this.open();
      if (this.serial) {
        this.reused = false; // one request per wake-up: a HELLO must come
        await this.wakeUp();
      }
      hello = await this.readHello();
      if (!hello) {
        const wasReused = this.reused;
        this.close();
        if (!wasReused) throw new UnreachableError(`${this.where} closed the connection before its HELLO (connection limit reached, or not a siot device)`);
      }
    }
    if (!hello) throw new UnreachableError(`${this.where} closed the connection before its HELLO`);
    const s = /** @type {Stream} */ (this.stream);
    const { bytes, exchange } = buildRequest(p, /** @type {Buffer} */ (this.key), hello, this.target.id ?? '', command);
    await s.write(bytes);
    mark(true);
    this.reused = true;

    if (p.protocol === 'classic') {
      if (this.target.classicResponse === false) {
        if (!this.serial) this.close();
        return { command, status: /** @type {Status} */ ('ok'), authentic: false };
      }
      const tag = await s.read(HASHES[p.hash].length);
      if (!this.serial || !tag) this.close();
      if (!tag) {
        return { command, status: /** @type {Status} */ ('rejected'), authentic: false };
      }
      const result = findResult(exchange, /** @type {Buffer} */ (this.key), 0, Buffer.alloc(0), tag);
      if (result < 0) throw new NotAuthenticError(`the response from ${this.where} is not authentic`, undefined);
      /** @type {Status} */
      const verdict = result === 0 ? 'ok' : 'failed';
      return { command, status: verdict, result, output: Buffer.alloc(0), authentic: true };
    }

    const head = await s.read(3);
    if (!head) throw new ProtocolMismatchError('response', `${this.where} closed the connection without a response`);
    const status = head[0];
    const outLen = head.readUInt16BE(1);
    if (outLen > MAX_OUTPUT) throw new ProtocolMismatchError('outputLength', `${this.where} sent a malformed response: output length over the limit`, MAX_OUTPUT, outLen);
    const sealed = outLen ? await s.read(outLen + SEAL_OVERHEAD) : Buffer.alloc(0);
    const tag = sealed ? await s.read(p.tagLength) : null;
    if (!sealed || !tag) throw new ProtocolMismatchError('response', `${this.where} closed the connection in the middle of a response`);
    const result = findResult(exchange, /** @type {Buffer} */ (this.key), status, sealed, tag);
    const output = result >= 0 ? openOutput(exchange, /** @type {Buffer} */ (this.key), sealed) : null;
    if (result < 0 || !output) {
      this.close();
      if (status === 2 || status === 3) {
        throw new NotAuthenticError('refused, not verified: the key is wrong, or the device does not know this client id', status);
      }
      throw new NotAuthenticError(`the response from ${this.where} is not authentic`, status);
    }
    /** @type {Status} */
    const name = STATUS_NAMES[status] ?? 'error';
    // The device closes after these; through a broker, each command has a
    // session of its own (a next HELLO may never come, and there is no EOF).
    if (status === 2 || status === 3 || this.target.mqtt) this.close();
    return { command, status: name, result, output, authentic: true };
  }

  close() {
    this.stream?.close();
    this.stream = null;
  }

  /** Close for good and wipe this connection's copy of the key. */
  destroy() {
    this.close();
    this.broker?.end();
    this.broker = null;
    this.key?.fill(0);
    this.key = null;
  }
}

/**
 * Send one command, or several in order over as few connections as the
 * device allows, stopping at the first that is not OK (the rest come back
 * with status "not-sent").  Never resends anything.
 * @overload
 * @param {Target} target @param {string} command @param {SendOptions} [options]
 * @returns {Promise<SendResult>}
 */
/**
 * @overload
 * @param {Target} target @param {string[]} command @param {SendOptions} [options]
 * @returns {Promise<SendResult[]>}
 */
/**
 * @param {Target} target @param {string | string[]} command @param {SendOptions} [options]
 * @returns {Promise<SendResult | SendResult[]>}
 */
export async function send(target, command, options = {}) {
  const commands = Array.isArray(command) ? command : [command];
  if (commands.length === 0) throw new UsageError('no command to send');
  const conn = new Connection(target, options);
  /** @type {SendResult[]} */
  const results = [];
  try {
    for (const c of commands) {
      if (results.length && results[results.length - 1].status !== 'ok') {
        results.push({ command: c, status: 'not-sent', authentic: false });
        continue;
      }
      try {
        results.push(await conn.send(c));
      } catch (e) {
        if (e instanceof SiotError) e.results = results.slice();
        throw e;
      }
    }
  } finally {
    conn.destroy();
  }
  return Array.isArray(command) ? results : results[0];
}
