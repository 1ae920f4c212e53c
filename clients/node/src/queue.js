// SPDX-License-Identifier: MIT
// Commands to one device, one at a time and in the order they came.  A
// device runs one exchange per connection anyway, and whoever sends "on"
// then "off" must not see them swapped.  Give each device its own queue: a
// slow or unreachable device then holds up only its own commands.

import { send } from './client.js';
import { AbortError } from './errors.js';

/**
 * @typedef {object} QueuedOptions
 * @property {unknown} [owner] whose command it is, for cancel()
 * @property {number} [timeout] milliseconds for this send, from when it leaves the queue
 */

/**
 * @typedef {object} Job
 * @property {string} command
 * @property {unknown} owner
 * @property {number | undefined} timeout
 * @property {(r: import('./client.js').SendResult) => void} resolve
 * @property {(e: unknown) => void} reject
 * @property {AbortController} controller
 */

export class SendQueue {
  /** @param {import('./client.js').Target} target */
  constructor(target) {
    this.target = target;
    /** @type {Job[]} */
    this.jobs = [];
    /** @type {Job | null} */
    this.current = null;
  }

  /**
   * Queue a command; resolves with its SendResult when its turn has come
   * and gone, or rejects as send() does (AbortError when cancelled).
   * @param {string} command @param {QueuedOptions} [options]
   * @returns {Promise<import('./client.js').SendResult>}
   */
  push(command, options = {}) {
    return new Promise((resolve, reject) => {
      this.jobs.push({ command, owner: options.owner, timeout: options.timeout, resolve, reject,
        controller: new AbortController() });
      this.pump();
    });
  }

  /** How many commands wait or run. */
  get length() {
    return this.jobs.length + (this.current ? 1 : 0);
  }

  async pump() {
    if (this.current) return;
    const job = this.jobs.shift();
    if (!job) return;
    this.current = job;
    try {
      /** @type {import('./client.js').SendOptions} */
      const options = { signal: job.controller.signal };
      if (job.timeout !== undefined) options.timeout = job.timeout;
      job.resolve(await send(this.target, job.command, options));
    } catch (e) {
      job.reject(e);
    } finally {
      this.current = null;
      this.pump();
    }
  }

  /**
   * Cancel owner's commands (every command when owner is undefined): those
   * still waiting are never sent (AbortError, sent false); the one under
   * way is aborted, and its action may still run on the device.
   * @param {unknown} [owner] @param {string} [why]
   */
  cancel(owner, why = 'cancelled') {
    /** @type {Job[]} */
    const keep = [];
    for (const job of this.jobs) {
      if (owner !== undefined && job.owner !== owner) keep.push(job);
      else job.reject(new AbortError(`${why}; it was not sent`, false, why));
    }
    this.jobs = keep;
    if (this.current && (owner === undefined || this.current.owner === owner))
      this.current.controller.abort(why);
  }
}
