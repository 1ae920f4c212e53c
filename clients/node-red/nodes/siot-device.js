// SPDX-License-Identifier: MIT
// The "siot device" config node: where a device is (TCP host and port, or an
// MQTT broker's URL and the device's id), who to be on it (the client id
// and key), the profile and the timeout.  The key is a credential: Node-RED
// keeps it out of the flows file and the exported flow.  Every message for
// this device goes through its one queue (siot-client's SendQueue).
'use strict';

/** siot-client, an ES module, loaded once. */
let client;
function siotClient() {
  client ??= import('siot-client');
  return client;
}

const NAME = /^[A-Za-z0-9._-]{1,32}$/;

/**
 * The siot-client Target for this node's settings, or a string saying what
 * is missing (in the editor's words).
 */
function targetOf(config, credentials) {
  const t = {};
  const timeout = Number(config.timeout);
  if (config.transport === 'mqtt') {
    if (!/^mqtts?:\/\/./.test(config.mqtt || '')) return 'give the broker as mqtt://HOST[:PORT] or mqtts://HOST[:PORT]';
    if (!config.device) return 'through a broker the device id is needed (its topics are named after it)';
    t.mqtt = config.mqtt;
    if (config.mqttUsername) t.mqttUsername = config.mqttUsername;
    if (credentials.mqttPassword) t.mqttPassword = credentials.mqttPassword;
    if (config.mqttCaFile) t.mqttCaFile = config.mqttCaFile;
  } else {
    if (!config.host) return 'give the device\'s host';
    t.host = config.host;
    t.port = Number(config.port) || 7468;
  }
  if (config.device) {
    if (!NAME.test(config.device)) return `device id "${config.device}": use 1 to 32 of A-Z a-z 0-9 . _ -`;
    t.device = config.device;
  }
  const protocol = config.protocol || 'v1';
  if (protocol !== 'v1' && protocol !== 'classic') return 'the profile is v1 or classic';
  if (protocol === 'classic' && t.mqtt) return 'classic cannot go through a broker: it binds no device id';
  t.protocol = protocol;
  if (protocol === 'v1') {
    if (!NAME.test(config.clientId || '')) return 'give the client id (1 to 32 of A-Z a-z 0-9 . _ -)';
    t.id = config.clientId;
  }
  if (credentials.key) t.key = credentials.key;
  else if (config.keyFile) t.keyFile = config.keyFile;
  else return 'give the key (or a key file)';
  t.timeout = Number.isFinite(timeout) && timeout > 0 ? Math.round(timeout * 1000) : 10000;
  return t;
}

module.exports = function (RED) {
  function SiotDeviceNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.name = config.name;
    node.problem = null;
    const target = targetOf(config, node.credentials || {});
    if (typeof target === 'string') node.problem = target;
    /** The device's queue, made when siot-client has loaded. */
    let queue = null;
    node.queue = async () => {
      const siot = await siotClient();
      queue ??= new siot.SendQueue(target);
      return queue;
    };
    node.describe = () => config.name || (config.transport === 'mqtt'
      ? `${config.device} through ${config.mqtt}` : `${config.host}:${config.port || 7468}`);
    node.on('close', (removed, done) => {
      queue?.cancel(undefined, 'the flow was stopped');
      done();
    });
  }
  RED.nodes.registerType('siot-device', SiotDeviceNode, {
    credentials: {
      key: { type: 'password' },
      mqttPassword: { type: 'password' },
    },
  });
};

module.exports.targetOf = targetOf;
module.exports.siotClient = siotClient;
