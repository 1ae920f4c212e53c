// SPDX-License-Identifier: MIT
// What a command's outcome looks like to a person or a program, as siot-ctl
// shows it: its --json object, and the words for a verified BUSY or
// REJECTED answer.  The command line, the Node-RED nodes and the Homebridge
// plugin all say it the same way.

/** @param {Uint8Array} b */
function validUtf8(b) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

/**
 * @typedef {object} ReportObject siot-ctl's --json object, keys in its order
 * @property {string} command
 * @property {string} status ok, failed, rejected, busy, timeout, error or not-sent
 * @property {number} [result] present when authentic
 * @property {string} [output] the output, when it is valid UTF-8
 * @property {string} [output_base64] the output, when it is not
 * @property {boolean} authentic
 * @property {string} [error] what went wrong, when not a device status
 */

/**
 * The --json object for an outcome.
 * @param {{ command: string, status: string, result?: number, output?: Uint8Array, authentic: boolean, error?: string }} o
 * @returns {ReportObject}
 */
export function reportObject(o) {
  // Built in siot-ctl's key order: JSON.stringify keeps insertion order.
  /** @type {Record<string, unknown>} */
  const line = { command: o.command, status: o.status };
  if (o.authentic) {
    line.result = o.result;
    if (o.output && o.output.length) {
      if (validUtf8(o.output)) line.output = Buffer.from(o.output).toString('utf8');
      else line.output_base64 = Buffer.from(o.output).toString('base64');
    }
  }
  line.authentic = o.authentic;
  if (o.error) line.error = o.error;
  return /** @type {ReportObject} */ (/** @type {unknown} */ (line));
}

/**
 * Why a verified BUSY or REJECTED answer came (its result byte, as
 * siot-protocol(7) defines it), in siot-ctl's words; undefined for other
 * statuses.
 * @param {string} status @param {number | undefined} result
 * @returns {string | undefined}
 */
export function reasonFor(status, result) {
  if (status === 'busy') {
    if (result === 1) return 'this client or address is backing off after failed attempts; wait a while and try again';
    if (result === 0) return 'the command or its GPIO line is in use; try again when it has finished';
    if (result === 2) return 'the device is over its request rate through the broker (mqtt.request_rate); try again in a moment';
  } else if (status === 'rejected') {
    if (result === 0) return 'no command that this client may run has this name';
    if (result === 1) return 'this client may not connect from this address';
  } else {
    return undefined;
  }
  return 'for a reason this client does not know';
}
