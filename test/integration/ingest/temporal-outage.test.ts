import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pLimit from 'p-limit';
import { pushImage } from '../../support/images';
import { type IngestStack, startIngestStack, tinyImage } from './stack';
import { chainWorkflowId } from '../../../src/chain';

const BURST = 50;
const OUTAGE_MS = 30_000;

void describe('Temporal down for 30 s during a burst of 50 pushes', () => {
  let stack: IngestStack;
  before(async () => {
    stack = await startIngestStack();
  });
  after(() => stack?.stop());

  void it('starts all 50 chains once Temporal is back, none dead-lettered', async () => {
    const images = await Promise.all(
      Array.from({ length: BURST }, async (_, i) => {
        const dir = join(stack.dataDir, `burst-${i}`);
        return { dir, repository: `burst/app-${i % 5}`, tag: `b${i}`, digest: await tinyImage(dir, `burst ${i}`) };
      }),
    );
    const expected = new Set(images.map((img) => chainWorkflowId({ registry: 'source', repository: img.repository, digest: img.digest })));
    assert.equal(expected.size, BURST);

    const limit = pLimit(4);
    await stack.restartTemporal(OUTAGE_MS, async () => {
      await Promise.all(images.map((img) => limit(() => pushImage(img.dir, 'latest', `${stack.registry.host}/${img.repository}:${img.tag}`))));
      // Every push is durably queued while Temporal is down, and the worker is retrying them.
      await stack.waitFor('50 queued events', async () => {
        const depth = await stack.ingest.queue.depth();
        return depth.waiting + depth.active + depth.delayed >= BURST ? depth : undefined;
      });
    });

    const started = await stack.waitFor(
      'all 50 chains',
      async () => {
        const runs = await stack.chainRuns();
        const found = [...expected].filter((id) => runs.get(id) === 1);
        return found.length === BURST ? runs : undefined;
      },
      60_000,
    );
    assert.equal([...started.keys()].filter((id) => expected.has(id)).length, BURST);
    assert.ok(
      [...started.values()].every((n) => n === 1),
      'one run per workflow id',
    );
    assert.equal((await stack.ingest.queue.depth()).dead, 0);
  });
});
