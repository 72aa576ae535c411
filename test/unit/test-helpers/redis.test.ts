import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { HAS_REDIS, REDIS_NOTE, startRedis, type RedisServer } from '../../helpers/redis.js';

async function roundTrip(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    sock.once('error', reject);
    sock.once('connect', () => sock.write(command));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.endsWith('\r\n')) {
        sock.destroy();
        resolve(buf);
      }
    });
  });
}

const servers: RedisServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.dispose();
});

describe.skipIf(!HAS_REDIS)(`test helper: a private redis-server${REDIS_NOTE}`, () => {
  it('starts two servers on different free loopback ports, and stops them', async () => {
    const a = await startRedis();
    const b = await startRedis();
    servers.push(a, b);
    expect(a.port).not.toBe(b.port);
    expect(await roundTrip(a.port, 'PING\r\n')).toBe('+PONG\r\n');
    await a.dispose();
    await expect(roundTrip(a.port, 'PING\r\n')).rejects.toThrow(/ECONNREFUSED/);
    expect(existsSync(a.dir)).toBe(false);
  });

  it('a persistent server keeps its data across a restart', async () => {
    const r = await startRedis({ persistent: true });
    servers.push(r);
    expect(await roundTrip(r.port, 'SET k v1\r\n')).toBe('+OK\r\n');
    await r.stop();
    await r.start();
    expect(await roundTrip(r.port, 'GET k\r\n')).toBe('$2\r\nv1\r\n');
  });
});
