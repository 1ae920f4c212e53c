// SPDX-License-Identifier: MIT
// The "siot send" node: one command to its siot device per message.  The
// command is the node's setting, or msg.command when the setting is empty.
// msg.payload becomes siot-ctl's --json object ({command, status, result,
// output, authentic}, and error); an outcome other than OK calls done(err)
// with siot-ctl's words, the message still carrying that payload, so that
// a Catch node sees both.
'use strict';

const { siotClient } = require('./siot-device.js');

const COMMAND = /^[A-Za-z0-9._-]{1,64}$/;

/** The node's status for an outcome. */
function statusFor(report, kind) {
  if (report.status === 'ok') return { fill: 'green', shape: 'dot', text: 'ok' };
  if (report.status === 'busy' || report.status === 'rejected')
    return { fill: 'yellow', shape: 'ring', text: report.status };
  if (report.status === 'failed') return { fill: 'red', shape: 'ring', text: `failed (exit ${report.result})` };
  return { fill: 'red', shape: 'ring', text: kind || report.status };
}

/** siot-ctl's words for an answer that is not OK. */
function words(siot, r) {
  const why = siot.reasonFor(r.status, r.result);
  if (r.status === 'failed') return `siot: ${r.command}: exit ${r.result}`;
  return `siot: ${r.command}: ${r.status}${why ? ': ' + why : ''}`;
}

/** What an exception from siot-client is, for the node's status. */
function kindOf(siot, e) {
  if (e instanceof siot.TimeoutError) return 'timeout';
  if (e instanceof siot.UnreachableError) return 'unreachable';
  if (e instanceof siot.NotAuthenticError) return 'not authentic';
  if (e instanceof siot.ProtocolMismatchError) return 'not this device';
  if (e instanceof siot.AbortError) return 'cancelled';
  return 'error';
}

module.exports = function (RED) {
  function SiotSendNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const device = RED.nodes.getNode(config.device);
    node.command = config.command;

    node.on('input', async (msg, send, done) => {
      const command = node.command || msg.command;
      if (!device) {
        node.status({ fill: 'red', shape: 'ring', text: 'no device' });
        done(new Error('siot send: choose a siot device in the node\'s settings'));
        return;
      }
      if (device.problem) {
        node.status({ fill: 'red', shape: 'ring', text: 'device settings' });
        done(new Error(`siot device ${device.describe()}: ${device.problem}`));
        return;
      }
      if (typeof command !== 'string' || !COMMAND.test(command)) {
        node.status({ fill: 'red', shape: 'ring', text: 'no command' });
        done(new Error('siot send: give a command name (1 to 64 of A-Z a-z 0-9 . _ -) in the node, '
          + 'or as msg.command'));
        return;
      }
      node.status({ fill: 'blue', shape: 'ring', text: `${command}…` });
      const siot = await siotClient();
      let result;
      try {
        result = await (await device.queue()).push(command, { owner: node });
      } catch (e) {
        const err = /** @type {Error} */ (e);
        msg.payload = siot.reportObject({ command, status: 'error', authentic: false, error: err.message });
        node.status(statusFor(msg.payload, kindOf(siot, err)));
        done(new Error(`siot: ${command}: ${err.message}`));
        return;
      }
      msg.payload = siot.reportObject(result);
      node.status(statusFor(msg.payload));
      if (result.status === 'ok') {
        send(msg);
        done();
      } else {
        done(new Error(words(siot, msg.payload)));
      }
    });

    node.on('close', (removed, done) => {
      if (device) device.queue().then((q) => q.cancel(node, 'the flow was stopped'), () => {});
      node.status({});
      done();
    });
  }
  RED.nodes.registerType('siot-send', SiotSendNode);
};
