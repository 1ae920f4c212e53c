// SPDX-License-Identifier: MIT
// The exchange through an MQTT v5 broker (siot-protocol(7), "MQTT"), with the
// maintained `mqtt` package as an optional peer dependency: without it,
// siot-client has no runtime dependency at all, and a target with `mqtt`
// says what to install.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TimeoutError, UnreachableError, UsageError } from './errors.js';
import { expandHome, readPasswordFile } from './files.js';
import { validId } from './protocol.js';
import { Stream } from './stream.js';

/** The largest packet either side takes (PROTOCOL.md, MQTT). */
const MAX_PACKET = 8192;
/** PUBACK reason codes a session's opening can get. */
const NO_MATCHING_SUBSCRIBERS = 16;
const NOT_AUTHORIZED = 135;

/** @type {any} */
let mqttModule = null;

/** The `mqtt` package, or a UsageError that says how to get it. */
async function loadMqtt() {
  if (mqttModule) return mqttModule;
  try {
    mqttModule = await import('mqtt');
  } catch {
    throw new UsageError("sending through an MQTT broker needs the 'mqtt' package (npm install mqtt); siot-client itself has no dependencies");
  }
  return mqttModule;
}

/** @param {string} url */
function parseUrl(url) {
  const m = /^(mqtts?):\/\/(\[[0-9a-fA-F:.]+\]|[^/:@?#[\]]+)(?::(\d{1,5}))?$/.exec(url);
  if (!m || (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535))) return null;
  return { tls: m[1] === 'mqtts', host: m[2].replace(/^\[|\]$/g, ''), port: m[3] ? Number(m[3]) : m[1] === 'mqtts' ? 8883 : 1883 };
}

/** Check a target's MQTT fields. @param {import('./client.js').Target} t */
export function checkMqttTarget(t) {
  const url = parseUrl(t.mqtt ?? '');
  if (!url) throw new UsageError(`mqtt "${t.mqtt}": give mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (user names and passwords have settings of their own)`);
  if (t.device === undefined) throw new UsageError('through a broker the device id is needed: set device (its topics are named after it)');
  if (!validId(t.device)) throw new UsageError(`device "${t.device}" is not a valid device id`);
  const prefix = t.mqttPrefix ?? 'siot';
  if (!prefix || /[+#]/.test(prefix) || prefix.startsWith('/') || prefix.endsWith('/')) throw new UsageError(`mqttPrefix "${prefix}": a topic without + or # and without a / at either end`);
  if (url.tls && !t.mqttCaFile) throw new UsageError('mqtts needs mqttCaFile: the CA certificates to trust');
  if ((t.mqttPassword !== undefined || t.mqttPasswordFile) && !t.mqttUsername) throw new UsageError('a broker password needs mqttUsername');
  if (t.mqttPassword !== undefined && t.mqttPasswordFile) throw new UsageError('give mqttPassword or mqttPasswordFile, not both');
}

/** "device D through URL (topic PREFIX/D/in)". @param {import('./client.js').Target} t */
export function describeMqtt(t) {
  return `device ${t.device} through ${t.mqtt} (topic ${t.mqttPrefix ?? 'siot'}/${t.device}/in)`;
}

/** One session's bytes: the messages published to its topic, in order. */
class SessionStream extends Stream {
  /**
   * @param {Broker} broker @param {AbortSignal} signal
   * @param {Buffer} corr @param {string} outTopic
   */
  constructor(broker, signal, corr, outTopic) {
    super(signal);
    this.broker = broker;
    this.corr = corr;
    this.outTopic = outTopic;
    this.sentRequest = false;
  }

  /** @param {Buffer} data */
  async write(data) {
    this.sentRequest = true;
    await this.broker.publish(data, this.corr, this.outTopic);
  }

  close() {
    this.broker.sessionEnded(this);
  }
}

/** The broker's connection for one Connection: sessions open on it. */
export class Broker {
  /** @param {import('./client.js').Target} target @param {string} where */
  constructor(target, where) {
    this.target = target;
    this.where = where;
    const prefix = target.mqttPrefix ?? 'siot';
    this.inTopic = `${prefix}/${target.device}/in`;
    this.outBase = `${prefix}/${target.device}/out/`;
    /** @type {any} the mqtt client, once connected */
    this.client = null;
    /** @type {SessionStream | null} */
    this.session = null;
    /** PUBACK reason codes by message id (mqtt.js does not hand 16 back). */
    /** @type {Map<number, number>} */
    this.acks = new Map();
  }

  /** @param {AbortSignal} signal @param {() => Error} timedOut */
  async connect(signal, timedOut) {
    const mqtt = await loadMqtt();
    const t = this.target;
    /** @type {Record<string, unknown>} */
    const opts = {
      protocolVersion: 5,
      reconnectPeriod: 0,
      properties: { maximumPacketSize: MAX_PACKET },
    };
    if (t.mqttUsername) opts.username = t.mqttUsername;
    if (t.mqttPassword !== undefined) opts.password = t.mqttPassword;
    else if (t.mqttPasswordFile) opts.password = readPasswordFile(t.mqttPasswordFile);
    if (t.mqttCaFile) opts.ca = readFileSync(expandHome(t.mqttCaFile));
    const client = mqtt.connect(t.mqtt, opts);
    client.on('packetreceive', (/** @type {any} */ p) => {
      if (p.cmd === 'puback') this.acks.set(p.messageId, p.reasonCode ?? 0);
    });
    client.on('message', (/** @type {string} */ topic, /** @type {Buffer} */ payload, /** @type {any} */ packet) => {
      const s = this.session;
      const corr = packet.properties?.correlationData;
      if (s && topic === s.outTopic && Buffer.isBuffer(corr) && corr.equals(s.corr) && payload.length) s.feed(payload);
    });
    client.on('close', () => {
      const s = this.session;
      if (s) s.fail(new TimeoutError(`lost the broker while waiting for the answer of ${this.where}; the command may still have run on the device (it runs at most once)`, s.sentRequest));
    });
    try {
      await new Promise((resolve, reject) => {
        const onAbort = () => reject(timedOut());
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        client.once('connect', () => { signal.removeEventListener('abort', onAbort); resolve(undefined); });
        client.once('error', (/** @type {any} */ e) => {
          signal.removeEventListener('abort', onAbort);
          const rc = e.code;
          reject(typeof rc === 'number'
            ? new UnreachableError(`${t.mqtt} refused the login: ${e.message.replace(/^Connection refused: /, '')}`, { cause: e })
            : new UnreachableError(`cannot connect to ${t.mqtt}: ${e.message}`, { cause: e }));
        });
      });
    } catch (e) {
      client.end(true);
      throw e;
    }
    // Small messages, each waited for: no Nagle delay.
    client.stream?.setNoDelay?.(true);
    this.client = client;
  }

  /**
   * Open a session: subscribe to its topic, then publish the empty message
   * that opens it on the device.
   * @param {AbortSignal} signal @param {() => Error} timedOut
   * @returns {Promise<SessionStream>}
   */
  async openSession(signal, timedOut) {
    if (!this.client) await this.connect(signal, timedOut);
    const corr = randomBytes(16);
    const outTopic = this.outBase + corr.toString('hex');
    const session = new SessionStream(this, signal, corr, outTopic);
    this.session = session;
    const race = (/** @type {Promise<any>} */ p) => new Promise((resolve, reject) => {
      const onAbort = () => reject(timedOut());
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      p.then((v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
        (e) => { signal.removeEventListener('abort', onAbort); reject(e); });
    });
    try {
      await race(this.client.subscribeAsync(outTopic, { qos: 1 }));
    } catch (e) {
      if (e instanceof TimeoutError) throw e;
      throw new UnreachableError(`${this.where}: the broker refused to subscribe to ${outTopic}: ${/** @type {Error} */ (e).message} (check its ACL)`, { cause: e });
    }
    const rc = await race(this.publish(Buffer.alloc(0), corr, outTopic));
    if (rc === NO_MATCHING_SUBSCRIBERS) {
      throw new UnreachableError(`${this.where}: no device is subscribed to ${this.inTopic} (is siotd of device ${this.target.device} connected to the broker?)`);
    }
    return session;
  }

  /**
   * Publish a protocol message into a session; the PUBACK's reason code.
   * @param {Buffer} payload @param {Buffer} corr @param {string} outTopic
   * @returns {Promise<number>}
   */
  async publish(payload, corr, outTopic) {
    const client = this.client;
    /** @type {number | undefined} */
    let mid;
    const onSend = (/** @type {any} */ p) => {
      if (p.cmd === 'publish' && p.topic === this.inTopic && p.properties?.correlationData === corr) mid = p.messageId;
    };
    client.on('packetsend', onSend);
    try {
      await client.publishAsync(this.inTopic, payload, {
        qos: 1,
        retain: false,
        properties: { responseTopic: outTopic, correlationData: corr },
      });
    } catch (e) {
      const code = /** @type {any} */ (e).code;
      if (code === NOT_AUTHORIZED) throw new UnreachableError(`${this.where}: the broker does not let this user publish to ${this.inTopic} (check its ACL)`, { cause: e });
      throw new UnreachableError(`${this.where}: the broker refused the message to ${this.inTopic}: ${/** @type {Error} */ (e).message}`, { cause: e });
    } finally {
      client.off('packetsend', onSend);
    }
    const rc = mid !== undefined ? this.acks.get(mid) ?? 0 : 0;
    if (mid !== undefined) this.acks.delete(mid);
    return rc;
  }

  /** @param {SessionStream} s */
  sessionEnded(s) {
    if (this.session !== s) return;
    this.session = null;
    this.client?.unsubscribeAsync(s.outTopic).catch(() => {});
  }

  end() {
    this.session = null;
    this.client?.end(true);
    this.client = null;
  }
}
