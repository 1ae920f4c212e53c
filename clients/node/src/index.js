// SPDX-License-Identifier: MIT
// siot-client: send commands to siot devices (siotd, or anything that speaks
// siot-protocol(7)) from Node.js.
export { Connection, send } from './client.js';
export { readKeyFile, readPasswordFile } from './files.js';
export { reasonFor, reportObject } from './report.js';
export { SendQueue } from './queue.js';
export {
  AbortError, KeyFileError, NotAuthenticError, ProtocolMismatchError, SiotError, TimeoutError,
  UnreachableError, UsageError,
} from './errors.js';
export {
  DEFAULT_PORT, MAX_OUTPUT, buildRequest, decodeKey, findResult, makeParams, openOutput,
} from './protocol.js';

/** @typedef {import('./client.js').Target} Target */
/** @typedef {import('./client.js').SendResult} SendResult */
/** @typedef {import('./client.js').SendOptions} SendOptions */
/** @typedef {import('./client.js').Status} Status */
/** @typedef {import('./protocol.js').Params} Params */
/** @typedef {import('./report.js').ReportObject} ReportObject */
