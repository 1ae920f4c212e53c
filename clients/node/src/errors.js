// SPDX-License-Identifier: MIT
// Error classes with stable `code` strings, so callers can branch on them.

/** Base class of every error siot-client throws. */
export class SiotError extends Error {
  /**
   * @param {string} code stable machine-readable code
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = 'SiotError';
    /** @type {string} */
    this.code = code;
    /** @type {import('./client.js').SendResult[]} outcomes of commands before this one */
    this.results = [];
  }
}

/** The response did not verify: nothing in it, not even its status, can be trusted. */
export class NotAuthenticError extends SiotError {
  /**
   * @param {string} message
   * @param {number | undefined} claimedStatus the status byte as received (unverified)
   */
  constructor(message, claimedStatus) {
    super('ERR_SIOT_NOT_AUTHENTIC', message);
    this.name = 'NotAuthenticError';
    /** @type {number | undefined} */
    this.claimedStatus = claimedStatus;
  }
}

/** The peer speaks another protocol, uses other parameters, or is another device. */
export class ProtocolMismatchError extends SiotError {
  /**
   * @param {'magic' | 'version' | 'hash' | 'tagLength' | 'challengeLength' | 'deviceId' | 'device' | 'outputLength' | 'response'} field
   * @param {string} message
   * @param {unknown} [expected]
   * @param {unknown} [actual]
   */
  constructor(field, message, expected, actual) {
    super('ERR_SIOT_PROTOCOL_MISMATCH', message);
    this.name = 'ProtocolMismatchError';
    this.field = field;
    this.expected = expected;
    this.actual = actual;
  }
}

/** The connection could not be made, or the peer closed it before its HELLO. */
export class UnreachableError extends SiotError {
  /** @param {string} message @param {ErrorOptions} [options] */
  constructor(message, options) {
    super('ERR_SIOT_UNREACHABLE', message, options);
    this.name = 'UnreachableError';
  }
}

/** The exchange did not finish in time.  An action may still have run. */
export class TimeoutError extends SiotError {
  /** @param {string} message @param {boolean} sent whether the request had left */
  constructor(message, sent) {
    super('ERR_SIOT_TIMEOUT', message);
    this.name = 'TimeoutError';
    this.sent = sent;
  }
}

/** The caller's AbortSignal fired.  An action may still have run. */
export class AbortError extends SiotError {
  /** @param {string} message @param {boolean} sent @param {unknown} reason */
  constructor(message, sent, reason) {
    super('ERR_SIOT_ABORTED', message, { cause: reason });
    this.name = 'AbortError';
    this.sent = sent;
  }
}

/** A key file that is unsafe (readable or writable by others) or not a key. */
export class KeyFileError extends SiotError {
  /** @param {string} message */
  constructor(message) {
    super('ERR_SIOT_KEY_FILE', message);
    this.name = 'KeyFileError';
  }
}

/** A target or an argument that is not valid. */
export class UsageError extends SiotError {
  /** @param {string} message */
  constructor(message) {
    super('ERR_SIOT_USAGE', message);
    this.name = 'UsageError';
  }
}
