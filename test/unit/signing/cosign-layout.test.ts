import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attachmentLayers, attachmentManifest, attachmentTag, MAX_ATTACHMENT_LAYERS } from '../../../src/signing/cosign-layout';
import { COSIGN_IMAGE, fixture } from './fixtures';

void describe('cosign attachment layout', () => {
  void it('tags attachments sha256-<hex>.sig / .att', () => {
    assert.equal(attachmentTag(COSIGN_IMAGE.digest, 'sig'), `sha256-${COSIGN_IMAGE.digest.slice(7)}.sig`);
    assert.equal(attachmentTag(COSIGN_IMAGE.digest, 'att'), `sha256-${COSIGN_IMAGE.digest.slice(7)}.att`);
  });

  void it("rebuilds cosign's two-signer .sig manifest byte for byte from its layers", () => {
    const original = fixture('cosign-sig-manifest-two-signers.json');
    const layers = attachmentLayers(original);
    assert.equal(layers?.length, 2);
    assert.deepEqual(attachmentManifest(layers!).manifest, original);
  });

  void it("rebuilds cosign's .att manifest byte for byte", () => {
    const original = fixture('cosign-att-manifest.json');
    assert.deepEqual(attachmentManifest(attachmentLayers(original)!).manifest, original);
  });

  void it('does not mistake other documents for attachment manifests', () => {
    assert.equal(attachmentLayers(Buffer.from('{"schemaVersion":2,"manifests":[]}')), undefined);
    assert.equal(attachmentLayers(Buffer.from('<html>')), undefined);
  });

  void it('refuses more layers than cosign accepts', () => {
    const layer = { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: COSIGN_IMAGE.digest, size: 1 };
    const manifest = (n: number) => Buffer.from(JSON.stringify({ schemaVersion: 2, layers: Array.from({ length: n }, () => layer) }));
    assert.equal(attachmentLayers(manifest(MAX_ATTACHMENT_LAYERS))?.length, MAX_ATTACHMENT_LAYERS);
    assert.equal(attachmentLayers(manifest(MAX_ATTACHMENT_LAYERS + 1)), undefined);
  });
});
