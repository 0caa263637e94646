import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChainError } from '../../../src/errors';
import { endOfLog, logTail, ManagedProcess } from '../../../workers/local/managed-process';

const dir = mkdtempSync(join(tmpdir(), 'dchain-managed-process-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('ManagedProcess start failures', () => {
  // Why: a CI run lost a kube-apiserver that exited with 255 before it was ready; the error named a
  // log file the test had already removed, so the cause could not be told. The error carries the log's end now.
  it('says how a process that exited before it was ready ended: its code and the last lines of its log', async () => {
    const proc = new ManagedProcess({
      name: 'dies-early',
      command: '/bin/sh',
      args: [
        '-c',
        'for i in $(seq 1 40); do echo "starting step $i"; done; echo "F1204 run.go:72] error creating storage factory: context deadline exceeded" >&2; exit 255',
      ],
      logFile: join(dir, 'dies-early.log'),
      ready: async () => false,
      readyTimeoutMs: 10_000,
    });
    await assert.rejects(proc.start(), (err: unknown) => {
      assert.ok(err instanceof ChainError);
      assert.equal(err.code, 'SERVICE_START_FAILED');
      assert.match(err.message, /dies-early exited \(code 255\) before it was ready/);
      assert.match(err.message, /\| F1204 run\.go:72\] error creating storage factory: context deadline exceeded$/);
      assert.match(err.message, /\| starting step 40\n/);
      assert.doesNotMatch(err.message, /starting step 20\n/, 'only the last lines');
      return true;
    });
  });

  it('says the same of one that was not ready in time, and stops it', async () => {
    const proc = new ManagedProcess({
      name: 'never-ready',
      command: '/bin/sh',
      args: ['-c', 'echo "waiting for etcd at 127.0.0.1:1"; exec sleep 30'],
      logFile: join(dir, 'never-ready.log'),
      ready: async () => false,
      readyTimeoutMs: 600,
    });
    await assert.rejects(
      proc.start(),
      /never-ready was not ready within 600 ms; see .*never-ready\.log; its log ends:\n {2}\| waiting for etcd at 127\.0\.0\.1:1$/,
    );
    assert.equal(proc.running, false);
  });

  it('reads only the end of a long log, cuts long lines, and gives nothing for an empty or missing log', () => {
    const long = join(dir, 'long.log');
    writeFileSync(long, `${'x'.repeat(100_000)}\n${Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n')}\n${'y'.repeat(1_000)}\n\n`);
    assert.deepEqual(logTail(long, 3), ['line 28', 'line 29', `${'y'.repeat(400)}…`]);
    assert.equal(endOfLog(long).split('\n').length, 16, 'an error carries the last 15 lines');
    writeFileSync(join(dir, 'empty.log'), '');
    assert.deepEqual(logTail(join(dir, 'empty.log')), []);
    assert.equal(endOfLog(join(dir, 'empty.log')), '');
    assert.equal(endOfLog(join(dir, 'absent.log')), '');
  });
});
