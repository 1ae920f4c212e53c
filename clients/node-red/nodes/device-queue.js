// SPDX-License-Identifier: MIT
// One device's commands, one at a time and in the order they came: a
// device runs one exchange per connection anyway, and a flow that sends
// "on" then "off" must not see them swapped.  Each device has its own
// queue, so a slow device holds up only its own messages.
'use strict';

class CancelledError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'CancelledError';
  }
}

class DeviceQueue {
  /** @param {(command: string, signal: AbortSignal) => Promise<unknown>} run */
  constructor(run) {
    this.run = run;
    /** @type {{ command: string, owner: unknown, resolve: (v: unknown) => void, reject: (e: unknown) => void, controller: AbortController }[]} */
    this.jobs = [];
    /** @type {null | { owner: unknown, controller: AbortController }} */
    this.current = null;
  }

  /** Queue command for owner; resolves with run's result. */
  push(command, owner) {
    return new Promise((resolve, reject) => {
      this.jobs.push({ command, owner, resolve, reject, controller: new AbortController() });
      this.pump();
    });
  }

  /** How many are waiting or running. */
  get length() {
    return this.jobs.length + (this.current ? 1 : 0);
  }

  async pump() {
    if (this.current || this.jobs.length === 0) return;
    const job = this.jobs.shift();
    this.current = job;
    try {
      job.resolve(await this.run(job.command, job.controller.signal));
    } catch (e) {
      job.reject(e);
    } finally {
      this.current = null;
      this.pump();
    }
  }

  /**
   * Cancel owner's jobs (every job when owner is undefined): those still
   * waiting are never sent; the one running is aborted (its action may
   * still run on the device, as siot-client's AbortError says).
   */
  cancel(owner, why) {
    const keep = [];
    for (const job of this.jobs) {
      if (owner !== undefined && job.owner !== owner) keep.push(job);
      else job.reject(new CancelledError(why));
    }
    this.jobs = keep;
    if (this.current && (owner === undefined || this.current.owner === owner))
      this.current.controller.abort(new CancelledError(why));
  }
}

module.exports = { DeviceQueue, CancelledError };
