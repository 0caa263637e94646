import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envelopeSigners, parseEnvelope, preAuthEncoding, signEnvelope } from '../../../src/signing/dsse';
import { buildStatement, parseStatement, STATEMENT_TYPE_V1 } from '../../../src/signing/in-toto';
import { KeySigner } from '../../../src/signing/key-signer';
import { PublicKeyVerifier } from '../../../src/signing/key-verifier';
import { buildSimpleSigningPayload, parseSimpleSigningPayload } from '../../../src/signing/simple-signing';
import { COSIGN_IMAGE, COSIGN_KEY_PASSWORD, fixture, fixtureText } from './fixtures';

const cosignKey = () => PublicKeyVerifier.fromPem(fixtureText('cosign.pub'));

void describe('simple signing payload', () => {
  void it('is byte-for-byte what cosign signs, with and without annotations', () => {
    assert.deepEqual(buildSimpleSigningPayload(COSIGN_IMAGE.reference, COSIGN_IMAGE.digest, { team: 'x' }), fixture('cosign-simple-signing.json'));
    const bare = buildSimpleSigningPayload(COSIGN_IMAGE.reference, COSIGN_IMAGE.digest).toString();
    assert.match(bare, /"optional":null}$/);
  });

  void it('sorts annotation keys as Go marshals maps', () => {
    const text = buildSimpleSigningPayload('r', COSIGN_IMAGE.digest, { b: '2', a: '1' }).toString();
    assert.match(text, /"optional":\{"a":"1","b":"2"\}/);
  });

  void it('parses cosign payloads and names what is wrong in others', () => {
    const parsed = parseSimpleSigningPayload(fixture('cosign-simple-signing.json'));
    assert.deepEqual(parsed, { ok: true, value: { dockerReference: COSIGN_IMAGE.reference, digest: COSIGN_IMAGE.digest, annotations: { team: 'x' } } });
    const wrongType = Buffer.from(fixture('cosign-simple-signing.json').toString().replace('cosign container image signature', 'atomic container signature'));
    assert.match(String((parseSimpleSigningPayload(wrongType) as { reason: string }).reason), /critical\.type/);
    assert.deepEqual(parseSimpleSigningPayload(Buffer.from('{')), { ok: false, reason: 'payload is not JSON' });
    const badDigest = Buffer.from(fixture('cosign-simple-signing.json').toString().replace('sha256:fd3', 'sha256:xd3'));
    assert.match(String((parseSimpleSigningPayload(badDigest) as { reason: string }).reason), /docker-manifest-digest/);
  });
});

void describe('DSSE', () => {
  void it('PAE follows the DSSE v1 spec example', () => {
    assert.equal(
      preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world')).toString(),
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
  });

  void it('PAE counts bytes, not characters', () => {
    assert.equal(preAuthEncoding('t', Buffer.from('é')).toString(), 'DSSEv1 1 t 2 é');
  });

  void it('verifies the envelope cosign attest wrote with the cosign public key', () => {
    const parsed = parseEnvelope(fixture('cosign-attestation.dsse.json'));
    assert.ok(parsed.ok);
    assert.equal(envelopeSigners(parsed.value, [cosignKey()]).length, 1);
    const statement = parseStatement(parsed.value.payload);
    assert.ok(statement.ok);
    assert.equal(statement.value.predicateType, 'https://example.com/pred/v1');
    assert.deepEqual(statement.value.subjectDigests, [COSIGN_IMAGE.digest]);
  });

  void it('a changed payload byte or another key no longer verifies', async () => {
    const parsed = parseEnvelope(fixture('cosign-attestation.dsse.json'));
    assert.ok(parsed.ok);
    const altered = { ...parsed.value, payload: Buffer.from(parsed.value.payload.toString().replace('world', 'World')) };
    assert.equal(envelopeSigners(altered, [cosignKey()]).length, 0);
    assert.equal(envelopeSigners(parsed.value, [PublicKeyVerifier.fromPem(fixtureText('cosign-second.pub'))]).length, 0);
  });

  void it('signs envelopes shaped like cosign envelopes that verify', async () => {
    const signer = await KeySigner.fromPem(fixtureText('cosign.key'), COSIGN_KEY_PASSWORD);
    const statement = buildStatement(COSIGN_IMAGE.reference, COSIGN_IMAGE.digest, 'https://example.com/p', { a: 1 });
    const bytes = await signEnvelope('application/vnd.in-toto+json', statement, signer);
    const json = JSON.parse(bytes.toString());
    assert.deepEqual(Object.keys(json), ['payloadType', 'payload', 'signatures']);
    assert.equal(json.signatures[0].keyid, '');
    const parsed = parseEnvelope(bytes);
    assert.ok(parsed.ok);
    assert.equal(envelopeSigners(parsed.value, [cosignKey()]).length, 1);
  });

  void it('reports malformed envelopes instead of throwing', () => {
    for (const text of ['[]', '{"payloadType":"x","payload":"!!","signatures":[{"sig":"AA=="}]}', '{"payloadType":"x","payload":"","signatures":[]}', 'nope']) {
      const parsed = parseEnvelope(Buffer.from(text));
      assert.equal(parsed.ok, false, text);
    }
  });
});

void describe('in-toto statement', () => {
  void it('builds a v1 statement naming the image by digest', () => {
    const statement = JSON.parse(buildStatement('h/r', COSIGN_IMAGE.digest, 'https://slsa.dev/provenance/v1', { b: 1 }).toString());
    assert.deepEqual(statement, {
      _type: STATEMENT_TYPE_V1,
      subject: [{ name: 'h/r', digest: { sha256: COSIGN_IMAGE.digest.slice(7) } }],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: { b: 1 },
    });
  });

  void it('refuses unknown statement types and subjects without digests', () => {
    assert.equal(parseStatement(Buffer.from(JSON.stringify({ _type: 'x', subject: [], predicateType: 'p' }))).ok, false);
    assert.equal(parseStatement(Buffer.from(JSON.stringify({ _type: STATEMENT_TYPE_V1, subject: [{ name: 'a' }], predicateType: 'p' }))).ok, false);
  });
});
