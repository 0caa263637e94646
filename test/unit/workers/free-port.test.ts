import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { freePort } from '../../../workers/local/managed-process';

const ephemeralLow = (): number => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 32_768;
  }
};

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

describe('freePort', () => {
  // The CI failure this guards: a port chosen for Redis was taken by one of the Temporal dev
  // server's internal services (which bind port 0) before Redis started.
  it('hands out ports below the kernel’s ephemeral range, so a port-0 bind elsewhere cannot take them', async () => {
    const low = ephemeralLow();
    const ports = await Promise.all(Array.from({ length: 40 }, () => freePort()));
    for (const port of ports) assert.ok(port >= 1024 && port < Math.min(low, 32_768), `port ${port} is in the ephemeral range (from ${low})`);
  });

  it('never hands the same port to two callers of one process, even at once', async () => {
    const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()));
    assert.equal(new Set(ports).size, ports.length);
  });

  it('hands out ports that can be bound', async () => {
    const servers = await Promise.all((await Promise.all(Array.from({ length: 10 }, () => freePort()))).map(listen));
    await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  });
});
