// SPDX-License-Identifier: MIT
// The "Siot" dynamic platform: devices (where a siot device is and who
// Homebridge is on it), and accessories on their commands (a switch, a
// lock, a garage door opener, a contact sensor).  Every command to a device
// goes through that device's one queue (siot-client's SendQueue), so a
// device that is down holds up only its own accessories.  Nothing is ever
// claimed that a verified answer did not say: any other outcome is HAP's
// "communication failure" to the Home app, and a line in Homebridge's log
// in siot-ctl's words.
'use strict';


const PLUGIN = '@siot/homebridge-siot';
const PLATFORM = 'Siot';
const NAME = /^[A-Za-z0-9._-]{1,32}$/;
const COMMAND = /^[A-Za-z0-9._-]{1,64}$/;

/** siot-client, an ES module, loaded once. */
let client;
function siotClient() {
  client ??= import('siot-client');
  return client;
}

/** What each type of accessory needs, and may have. */
const TYPES = {
  switch: { need: ['on', 'off'], may: ['get'] },
  lock: { need: ['lock', 'unlock'], may: ['get'] },
  'garage-door': { need: ['pulse', 'get'], may: [] },
  'contact-sensor': { need: ['get'], may: [] },
};

/** The siot-client target for a device's settings; throws what is wrong. */
function targetOf(d) {
  if (!d || typeof d.name !== 'string' || !d.name) throw new Error('a device needs a name');
  const t = {};
  if (d.mqtt) {
    if (!/^mqtts?:\/\/./.test(d.mqtt)) throw new Error('mqtt is mqtt://HOST[:PORT] or mqtts://HOST[:PORT]');
    if (!d.device) throw new Error('through a broker the device id is needed (its topics are named after it)');
    t.mqtt = d.mqtt;
    if (d.mqttUsername) t.mqttUsername = d.mqttUsername;
    if (d.mqttPasswordFile) t.mqttPasswordFile = d.mqttPasswordFile;
    if (d.mqttCaFile) t.mqttCaFile = d.mqttCaFile;
  } else if (d.host) {
    t.host = d.host;
    t.port = Number(d.port) || 7468;
  } else {
    throw new Error('give host (and port) or mqtt');
  }
  if (d.device !== undefined) {
    if (!NAME.test(d.device)) throw new Error(`device id "${d.device}": use 1 to 32 of A-Z a-z 0-9 . _ -`);
    t.device = d.device;
  }
  if (!NAME.test(d.clientId ?? '')) throw new Error('clientId: use 1 to 32 of A-Z a-z 0-9 . _ -');
  t.id = d.clientId;
  if (typeof d.keyFile !== 'string' || !d.keyFile) throw new Error('keyFile: the client\'s key file is needed');
  t.keyFile = d.keyFile;
  const timeout = d.timeout === undefined ? 5 : Number(d.timeout);
  if (!(timeout > 0 && timeout <= 60)) throw new Error('timeout: seconds, more than 0 and at most 60');
  t.timeout = Math.round(timeout * 1000);
  return t;
}

/** Check an accessory's settings against its type; throws what is wrong. */
function checkAccessory(a, devices) {
  if (!a || typeof a.name !== 'string' || !a.name) throw new Error('an accessory needs a name');
  const type = TYPES[a.type];
  if (!type) throw new Error(`type "${a.type}": switch, lock, garage-door or contact-sensor`);
  if (!devices.has(a.device)) throw new Error(`device "${a.device}" is not among the platform's devices`);
  for (const k of type.need)
    if (!COMMAND.test(a[k] ?? '')) throw new Error(`a ${a.type} needs the command "${k}"`);
  for (const k of type.may)
    if (a[k] !== undefined && !COMMAND.test(a[k])) throw new Error(`"${k}": a command name`);
}

class SiotPlatform {
  constructor(log, config, api) {
    this.log = log;
    this.config = config || {};
    this.api = api;
    this.hap = api.hap;
    /** @type {Map<string, object>} accessories restored from Homebridge's cache, by UUID */
    this.cached = new Map();
    /** @type {Map<string, { queue: object | null, problem: string | null, target: object | null }>} */
    this.devices = new Map();
    this.timers = [];
    api.on('didFinishLaunching', () => {
      this.start().catch((e) => this.log.error(`siot: ${e.message}`));
    });
    api.on('shutdown', () => this.stop());
  }

  /** Homebridge hands back each accessory it had cached. */
  configureAccessory(accessory) {
    this.cached.set(accessory.UUID, accessory);
  }

  async start() {
    const siot = await siotClient();
    this.siot = siot;
    for (const d of this.config.devices ?? []) this.addDevice(siot, d);
    const fresh = [];
    const wanted = new Set();
    for (const a of this.config.accessories ?? []) {
      try {
        checkAccessory(a, this.devices);
      } catch (e) {
        this.log.error(`siot: accessory "${a?.name}": ${e.message}; it is left out`);
        continue;
      }
      const uuid = this.hap.uuid.generate(`siot:${a.device}:${a.type}:${a.name}`);
      if (wanted.has(uuid)) {
        this.log.error(`siot: accessory "${a.name}" of device "${a.device}" is declared twice; the second is left out`);
        continue;
      }
      wanted.add(uuid);
      let acc = this.cached.get(uuid);
      if (acc) {
        this.log.info(`siot: ${a.name}: restored from the cache`);
      } else {
        acc = new this.api.platformAccessory(a.name, uuid);
        fresh.push(acc);
      }
      acc.context.siot = { device: a.device, type: a.type };
      this.bind(acc, a);
    }
    if (fresh.length) this.api.registerPlatformAccessories(PLUGIN, PLATFORM, fresh);
    const stale = [...this.cached.values()].filter((acc) => !wanted.has(acc.UUID));
    if (stale.length) {
      this.log.info(`siot: removing ${stale.length} accessory(ies) no longer in the config`);
      this.api.unregisterPlatformAccessories(PLUGIN, PLATFORM, stale);
    }
    this.log.info(`siot: ${wanted.size} accessories ready`);
  }

  stop() {
    for (const t of this.timers) clearInterval(t);
    for (const d of this.devices.values()) d.queue?.cancel(undefined, 'Homebridge is stopping');
  }

  /** A device, or why it cannot be used (logged once, and on each use). */
  addDevice(siot, d) {
    const name = d?.name;
    if (this.devices.has(name)) {
      this.log.error(`siot: device "${name}" is declared twice; the second is left out`);
      return;
    }
    try {
      const target = targetOf(d);
      siot.readKeyFile(target.keyFile).fill(0); // checked now: unsafe permissions, not a key
      this.devices.set(name, { target, queue: new siot.SendQueue(target), problem: null });
    } catch (e) {
      const problem = `device "${name}": ${e.message}`;
      this.log.error(`siot: ${problem}; its accessories will say they cannot be reached`);
      this.devices.set(name, { target: null, queue: null, problem });
    }
  }

  /**
   * Send command to the accessory's device: the verified SendResult of an
   * OK answer.  Anything else is logged in siot-ctl's words and thrown as
   * HAP's communication failure.
   */
  async run(a, command) {
    const dev = this.devices.get(a.device);
    const fail = (why) => {
      this.log.warn(`siot: ${a.name}: ${command}: ${why}`);
      return new this.hap.HapStatusError(this.hap.HAPStatus.SERVICE_COMMUNICATION_FAILURE);
    };
    if (!dev.queue) throw fail(dev.problem);
    let r;
    try {
      r = await dev.queue.push(command);
    } catch (e) {
      throw fail(e.message);
    }
    if (!r.authentic) throw fail('the answer did not verify');
    if (r.status !== 'ok') {
      const why = this.siot.reasonFor(r.status, r.result);
      throw fail(r.status === 'failed' ? `exit ${r.result}` : `${r.status}${why ? ': ' + why : ''}`);
    }
    return r;
  }

  /** The level a get answered (its result byte), inverted when asked. */
  async level(a) {
    const r = await this.run(a, a.get);
    return (r.result === 1) !== Boolean(a.invert);
  }

  bind(acc, a) {
    const { Service, Characteristic } = this.hap;
    acc.getService(Service.AccessoryInformation)
      .setCharacteristic(Characteristic.Manufacturer, 'siot')
      .setCharacteristic(Characteristic.Model, a.type)
      .setCharacteristic(Characteristic.SerialNumber, `${a.device}/${a.name}`.slice(0, 64));
    if (a.type === 'switch') this.bindSwitch(acc, a);
    else if (a.type === 'lock') this.bindLock(acc, a);
    else if (a.type === 'garage-door') this.bindGarage(acc, a);
    else this.bindContact(acc, a);
  }

  bindSwitch(acc, a) {
    const { Service, Characteristic } = this.hap;
    const s = acc.getService(Service.Switch) ?? acc.addService(Service.Switch, a.name);
    let last = false;
    s.getCharacteristic(Characteristic.On)
      .onSet(async (v) => {
        await this.run(a, v ? a.on : a.off);
        last = Boolean(v);
      })
      .onGet(async () => (a.get ? (last = await this.level(a)) : last));
  }

  bindLock(acc, a) {
    const { Service, Characteristic } = this.hap;
    const { SECURED, UNSECURED } = Characteristic.LockCurrentState;
    const s = acc.getService(Service.LockMechanism) ?? acc.addService(Service.LockMechanism, a.name);
    let last = SECURED;
    s.getCharacteristic(Characteristic.LockTargetState)
      .onSet(async (v) => {
        await this.run(a, v === Characteristic.LockTargetState.SECURED ? a.lock : a.unlock);
        last = v === Characteristic.LockTargetState.SECURED ? SECURED : UNSECURED;
        s.updateCharacteristic(Characteristic.LockCurrentState, last);
      })
      .onGet(() => (last === SECURED ? Characteristic.LockTargetState.SECURED
        : Characteristic.LockTargetState.UNSECURED));
    s.getCharacteristic(Characteristic.LockCurrentState)
      .onGet(async () => (a.get ? (last = (await this.level(a)) ? SECURED : UNSECURED) : last));
  }

  bindGarage(acc, a) {
    const { Service, Characteristic } = this.hap;
    const C = Characteristic.CurrentDoorState;
    const T = Characteristic.TargetDoorState;
    const s = acc.getService(Service.GarageDoorOpener) ?? acc.addService(Service.GarageDoorOpener, a.name);
    const travel = (Number(a.travelTime) > 0 ? Number(a.travelTime) : 15) * 1000;
    let moving = null; // the state it is moving to, or null
    let target = T.CLOSED;
    const obstructed = (yes) => s.updateCharacteristic(Characteristic.ObstructionDetected, yes);
    const read = async () => {
      try {
        const closed = await this.level(a);
        obstructed(false);
        return closed ? C.CLOSED : C.OPEN;
      } catch (e) {
        obstructed(true); // an error is reported as an obstruction too
        throw e;
      }
    };
    s.getCharacteristic(T)
      .onSet(async (v) => {
        try {
          await this.run(a, a.pulse);
        } catch (e) {
          obstructed(true);
          throw e;
        }
        target = v;
        moving = v === T.OPEN ? C.OPENING : C.CLOSING;
        s.updateCharacteristic(C, moving);
        const timer = setTimeout(async () => {
          moving = null;
          try {
            const now = await read();
            target = now === C.CLOSED ? T.CLOSED : T.OPEN;
            s.updateCharacteristic(C, now);
            s.updateCharacteristic(T, target);
          } catch {
            // logged by run(); the obstruction says it
          }
        }, travel);
        this.timers.push(timer);
      })
      .onGet(() => target);
    s.getCharacteristic(C).onGet(async () => moving ?? read());
  }

  bindContact(acc, a) {
    const { Service, Characteristic } = this.hap;
    const S = Characteristic.ContactSensorState;
    const s = acc.getService(Service.ContactSensor) ?? acc.addService(Service.ContactSensor, a.name);
    const read = async () => ((await this.level(a)) ? S.CONTACT_DETECTED : S.CONTACT_NOT_DETECTED);
    s.getCharacteristic(S).onGet(read);
    const every = (Number(a.interval) > 0 ? Number(a.interval) : 10) * 1000;
    let busy = false;
    const poll = async () => {
      if (busy) return; // never two polls of one sensor at once
      busy = true;
      try {
        s.updateCharacteristic(S, await read());
        s.updateCharacteristic(Characteristic.StatusFault, Characteristic.StatusFault.NO_FAULT);
      } catch {
        s.updateCharacteristic(Characteristic.StatusFault, Characteristic.StatusFault.GENERAL_FAULT);
      } finally {
        busy = false;
      }
    };
    this.timers.push(setInterval(poll, every));
    poll();
  }
}

module.exports = { PLUGIN, PLATFORM, SiotPlatform, targetOf, checkAccessory };
