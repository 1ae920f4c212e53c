// Compiled (never run) by the typecheck: the package's exports map and its
// generated .d.ts files must give a consumer these types.
import { send, Connection, NotAuthenticError, type SendResult } from 'siot-client';

async function use(): Promise<void> {
  const one: SendResult = await send({ host: 'garage.local', id: 'alice', keyFile: '~/.config/siot/k.key' }, 'garage-open');
  const many: SendResult[] = await send({ path: '/run/siot.sock', id: 'a', key: Buffer.alloc(32) }, ['a', 'b'], { timeout: 5000 });
  const status: 'ok' | 'failed' | 'rejected' | 'busy' | 'timeout' | 'error' | 'not-sent' = one.status;
  const c = new Connection({ host: 'h', id: 'a', key: Buffer.alloc(32), protocol: 'classic', hash: 'sha512' });
  c.close();
  try {
    await send({ host: 'h', id: 'a', key: Buffer.alloc(32) }, 'x', { signal: AbortSignal.timeout(1000) });
  } catch (e) {
    if (e instanceof NotAuthenticError) console.log(e.code, e.claimedStatus, many.length, status);
  }
}
void use;
