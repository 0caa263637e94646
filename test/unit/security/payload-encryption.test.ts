import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { type ChainError } from '../../../src/errors/chain-error';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA, PayloadEncryption } from '../../../src/security/payload-encryption';
import { HISTORIES_DIR } from '../../support/histories';

const dir = mkdtempSync(join(tmpdir(), 'dchain-codec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

describe('payload encryption codec (AES-256-GCM, key id in metadata)', () => {
  const oldKey = keyFile('old.key', randomBytes(32));
  const newKey = keyFile('new.key', `${randomBytes(32).toString('base64')}\n`);
  const hexKey = keyFile('hex.key', randomBytes(32).toString('hex'));

  it('encrypts a payload so neither its data nor its encoding are readable, and decrypts it back', async () => {
    const codec = PayloadEncryption.fromConfig({ keys: [{ id: 'new', file: newKey }] });
    const plain = defaultPayloadConverter.toPayload({ password: 'hunter2-secret', digest: 'sha256:abc' });
    const [sealed] = await codec.encode([plain]);
    assert.equal(text(sealed!.metadata?.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(sealed!.metadata?.[KEY_ID_METADATA]), 'new');
    assert.doesNotMatch(Buffer.from(sealed!.data!).toString('latin1'), /hunter2|sha256|json/);
    const [opened] = await codec.decode([sealed!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(opened as never), { password: 'hunter2-secret', digest: 'sha256:abc' });
  });

  it('passes unencrypted payloads through on decode (histories from before the codec)', async () => {
    const codec = PayloadEncryption.fromConfig({ keys: [{ id: 'new', file: newKey }] });
    const plain = defaultPayloadConverter.toPayload({ stage: 'scan' });
    assert.deepEqual(await codec.decode([plain]), [plain]);
  });

  it('rotates: the first key encrypts, a retired key still decrypts; a key no longer listed is named in the error', async () => {
    const before = PayloadEncryption.fromConfig({ keys: [{ id: 'old', file: oldKey }] });
    const [sealedOld] = await before.encode([defaultPayloadConverter.toPayload('written with old')]);
    const rotated = PayloadEncryption.fromConfig({
      keys: [
        { id: 'new', file: newKey },
        { id: 'old', file: oldKey },
      ],
    });
    assert.equal(defaultPayloadConverter.fromPayload((await rotated.decode([sealedOld!]))[0] as never), 'written with old');
    const [sealedNew] = await rotated.encode([defaultPayloadConverter.toPayload('x')]);
    assert.equal(text(sealedNew!.metadata?.[KEY_ID_METADATA]), 'new');
    const pinned = PayloadEncryption.fromConfig({
      keys: [
        { id: 'new', file: newKey },
        { id: 'old', file: oldKey },
      ],
      encryptWith: 'old',
    });
    assert.equal(text((await pinned.encode([defaultPayloadConverter.toPayload('x')]))[0]!.metadata?.[KEY_ID_METADATA]), 'old');
    const dropped = PayloadEncryption.fromConfig({ keys: [{ id: 'new', file: newKey }] });
    await assert.rejects(
      dropped.decode([sealedOld!]),
      (err: ChainError) => err.code === 'CONFIG_INVALID' && /names key "old", which is not among temporal.codec.keys \(new\)/.test(err.message),
    );
  });

  it('rejects tampered ciphertext and a payload re-labelled to another key', async () => {
    const codec = PayloadEncryption.fromConfig({
      keys: [
        { id: 'a', file: oldKey },
        { id: 'b', file: hexKey },
      ],
    });
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload('payload')]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[20] = (flipped[20] as number) ^ 1;
    await assert.rejects(codec.decode([{ ...sealed!, data: flipped }]), /does not decrypt: wrong key content or tampered data/);
    const relabelled = { data: sealed!.data, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: new TextEncoder().encode('b') } };
    await assert.rejects(codec.decode([relabelled]), /does not decrypt/);
    await assert.rejects(codec.decode([{ ...sealed!, data: new Uint8Array(5) }]), /truncated/);
  });

  it('reads keys as 32 raw bytes, base64 or hex, and names a bad key file', () => {
    assert.ok(PayloadEncryption.fromConfig({ keys: [{ id: 'h', file: hexKey }] }));
    assert.throws(
      () => PayloadEncryption.fromConfig({ keys: [{ id: 'short', file: keyFile('short.key', 'c2hvcnQ=') }] }),
      /key "short": the file must hold 32 bytes/,
    );
    assert.throws(
      () => PayloadEncryption.fromConfig({ keys: [{ id: 'gone', file: join(dir, 'missing.key') }] }),
      (err: ChainError) => err.code === 'CONFIG_UNREADABLE' && /payload codec key file \(key "gone"\)/.test(err.message),
    );
  });

  it('the recorded histories (written without a codec) replay with the codec on', async () => {
    const codec = PayloadEncryption.fromConfig({ keys: [{ id: 'new', file: newKey }] });
    const files = readdirSync(HISTORIES_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort();
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, f), 'utf8'))),
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(
      { workflowsPath: require.resolve('../../../workflows'), replayName: 'codec-replay', dataConverter: { payloadCodecs: [codec] } },
      histories,
    )) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.equal(replayed, files.length);
    assert.deepEqual(failures, []);
  });
});
