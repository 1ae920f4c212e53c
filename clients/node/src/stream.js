// SPDX-License-Identifier: MIT
// The bytes of one exchange, whatever carries them.

/**
 * Bytes with exact reads and a deadline (the send under way's), fed by a
 * transport: a socket (SocketStream) or a broker's session (mqtt.js).
 */
export class Stream {
  /** @param {AbortSignal} signal */
  constructor(signal) {
    /** @type {AbortSignal} */
    this.signal = signal;
    /** @type {Buffer} */
    this.buf = Buffer.alloc(0);
    this.ended = false;
    /** @type {Error | null} */
    this.error = null;
    /** @type {(() => void) | null} */
    this.wake = null;
    this.poke = () => { const w = this.wake; this.wake = null; if (w) w(); };
    this.setSignal(signal);
  }

  /** @param {Buffer} d */
  feed(d) { this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d; this.poke(); }

  end() { this.ended = true; this.poke(); }

  /** @param {Error} e */
  fail(e) { this.error = e; this.poke(); }

  /** The deadline (and abort) of the send under way. @param {AbortSignal} signal */
  setSignal(signal) {
    this.signal = signal;
    signal.addEventListener('abort', this.poke, { once: true });
  }

  /** Exactly n bytes, or null when the peer closed first. @param {number} n */
  async read(n) {
    while (this.buf.length < n) {
      if (this.signal.aborted) throw this.signal.reason;
      if (this.error) {
        const code = /** @type {NodeJS.ErrnoException} */ (this.error).code;
        if (code === 'ECONNRESET' || code === 'EPIPE') return null;
        throw this.error;
      }
      if (this.ended) return null;
      await new Promise((resolve) => { this.wake = () => resolve(undefined); });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /**
   * Whether any byte comes within ms (false: none yet; null: the peer
   * closed).  For serial framing's wake-up loop.
   * @param {number} ms
   */
  async waitAny(ms) {
    const until = Date.now() + ms;
    while (this.buf.length === 0) {
      if (this.signal.aborted) throw this.signal.reason;
      if (this.error) throw this.error;
      if (this.ended) return null;
      const left = until - Date.now();
      if (left <= 0) return false;
      await new Promise((resolve) => {
        const t = setTimeout(() => { this.wake = null; resolve(undefined); }, left);
        this.wake = () => { clearTimeout(t); resolve(undefined); };
      });
    }
    return true;
  }

  /**
   * Drop bytes until one equal to b is next (false: the peer closed first).
   * @param {number} b
   */
  async skipTo(b) {
    for (;;) {
      const at = this.buf.indexOf(b);
      if (at >= 0) {
        this.buf = this.buf.subarray(at);
        return true;
      }
      this.buf = Buffer.alloc(0);
      if ((await this.waitAny(60000)) === null) return false;
    }
  }

  /** @param {Buffer} data @returns {Promise<void>} */
  async write(data) { void data; throw new Error('not a writable stream'); }

  close() {}
}

