import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { purlCovers } from '../../../src/scan/vex/purl';
import { readVexDocument, readVexText, vexOutcome } from '../../../src/scan/vex';

const NOW = new Date('2026-06-01T12:00:00Z');
const IMAGE = `sha256:${'ab'.repeat(32)}`;

/** The spec's first example (OPENVEX-SPEC.md, "Example"): git fixed in a Wolfi package. */
const SPEC_FIXED = {
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://openvex.dev/docs/example/vex-9fb3463de1b57',
  author: 'Wolfi J Inkinson',
  role: 'Document Creator',
  timestamp: '2023-01-08T18:02:03.647787998-06:00',
  version: 1,
  statements: [
    {
      vulnerability: { name: 'CVE-2014-123456' },
      timestamp: '2023-01-06T15:05:42.647787998Z',
      products: [{ '@id': 'pkg:apk/wolfi/git@2.39.0-r1?arch=armv7' }, { '@id': 'pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64' }],
      status: 'fixed',
    },
  ],
};

/** The spec's container example: a component of an image not affected (vulnerable code not present). */
const SPEC_IMAGE = {
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://openvex.dev/docs/public/vex-2e67563e128250cbcb3e98930df948dd053e43271d70dc50cfa22d57e03fe96f',
  author: 'Spring Builds <spring-builds@example.com>',
  timestamp: '2023-08-29T12:00:00Z',
  version: 1,
  statements: [
    {
      vulnerability: { '@id': 'https://nvd.nist.gov/vuln/detail/CVE-2023-1234', name: 'CVE-2023-1234', aliases: ['GHSA-aaaa-bbbb-cccc'] },
      products: [
        {
          '@id': `pkg:oci/example@${IMAGE.replace(':', '%3A')}?repository_url=ghcr.io/example`,
          subcomponents: [{ '@id': 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64' }],
        },
      ],
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
    },
  ],
};

const libssl = {
  id: 'DSA-5532-1',
  aliases: ['CVE-2023-1234'],
  package: 'libssl3',
  purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12',
};

void describe('OpenVEX documents', () => {
  void it('reads the spec examples', () => {
    const fixed = readVexDocument(SPEC_FIXED, 'fixed.json');
    assert.ok(fixed.ok);
    assert.equal(fixed.format, 'openvex');
    assert.equal(fixed.statements[0]!.status, 'fixed');
    assert.deepEqual(
      fixed.statements[0]!.products.map((p) => p.ids[0]),
      ['pkg:apk/wolfi/git@2.39.0-r1?arch=armv7', 'pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64'],
    );
    assert.equal(fixed.statements[0]!.source.author, 'Wolfi J Inkinson');
    const image = readVexDocument(SPEC_IMAGE, 'image.json');
    assert.ok(image.ok);
    assert.equal(image.statements[0]!.justification, 'vulnerable_code_not_in_execute_path');
  });

  void it('names each problem: a not_affected statement without a reason, an unknown status, an unknown field', () => {
    const bad = {
      ...SPEC_FIXED,
      statements: [
        { vulnerability: { name: 'CVE-1' }, products: ['pkg:npm/a@1'], status: 'not_affected' },
        { vulnerability: { name: 'CVE-2' }, products: ['pkg:npm/a@1'], status: 'gone' },
        { vulnerability: { name: 'CVE-3' }, products: ['pkg:npm/a@1'], status: 'fixed', expiry: '2026-01-01' },
      ],
    };
    const read = readVexDocument(bad, 'bad.json');
    assert.equal(read.ok, false);
    const problems = read.ok ? [] : read.problems;
    assert.ok(
      problems.some((p) => /^statements\.0\.justification: a not_affected statement needs a justification or an impact_statement/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /^statements\.1\.status:/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /^statements\.2: unknown field "expiry"/.test(p)),
      problems.join('\n'),
    );
  });

  void it('refuses what is not VEX, and text that is not JSON', () => {
    assert.deepEqual(readVexText('{"hello": 1}', 'x'), {
      ok: false,
      problems: ['(root): neither OpenVEX (an "@context" of https://openvex.dev/ns) nor CycloneDX VEX ("bomFormat": "CycloneDX")'],
    });
    const notJson = readVexText('{', 'x');
    assert.ok(!notJson.ok && /not JSON/.test(notJson.problems[0]!));
  });

  void it('gives statements without products the attestation subject (the spec inheritance rule), and drops them outside one', () => {
    const doc = { ...SPEC_FIXED, statements: [{ vulnerability: { name: 'CVE-2023-12345' }, status: 'fixed' }] };
    const attested = readVexDocument(doc, 'att', { subjectDigests: [IMAGE] });
    assert.ok(attested.ok);
    assert.deepEqual(attested.statements[0]!.products, [{ ids: [IMAGE], subcomponents: [] }]);
    const alone = readVexDocument(doc, 'file');
    assert.ok(alone.ok);
    assert.equal(alone.statements.length, 0);
  });
});

void describe('CycloneDX VEX', () => {
  const bom = {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79',
    version: 1,
    metadata: {
      timestamp: '2026-05-01T00:00:00Z',
      component: { 'bom-ref': 'image', type: 'container', name: 'app', purl: `pkg:oci/app@${IMAGE.replace(':', '%3A')}` },
    },
    components: [{ 'bom-ref': 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2', type: 'library', name: 'libssl3', purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2' }],
    vulnerabilities: [
      {
        id: 'CVE-2023-1234',
        references: [{ id: 'GHSA-aaaa-bbbb-cccc', source: { name: 'GitHub' } }],
        analysis: { state: 'not_affected', justification: 'code_not_reachable', response: ['will_not_fix'], detail: 'TLS is terminated by the proxy' },
        affects: [{ ref: 'urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#pkg:deb/debian/libssl3@3.0.11-1~deb12u2' }],
      },
      { id: 'CVE-2023-9999', analysis: { state: 'in_triage' }, affects: [{ ref: 'image' }] },
    ],
  };

  void it('maps analysis states onto VEX statuses and resolves BOM-Link references to purls', () => {
    const read = readVexDocument(bom, 'app.cdx.json');
    assert.ok(read.ok);
    assert.equal(read.format, 'cyclonedx');
    const [a, b] = read.statements;
    assert.equal(a!.status, 'not_affected');
    assert.equal(a!.justification, 'code_not_reachable');
    assert.deepEqual(a!.aliases, ['GHSA-aaaa-bbbb-cccc']);
    assert.ok(a!.products[0]!.ids.includes('pkg:deb/debian/libssl3@3.0.11-1~deb12u2'));
    assert.equal(b!.status, 'under_investigation');
    assert.equal(vexOutcome(libssl, read.statements, IMAGE, NOW).suppressedBy?.vulnerability, 'CVE-2023-1234');
  });

  void it('names a not_affected analysis without justification or detail', () => {
    const read = readVexDocument({ ...bom, vulnerabilities: [{ id: 'CVE-1', analysis: { state: 'not_affected' }, affects: [{ ref: 'image' }] }] }, 'x');
    assert.ok(!read.ok && read.problems.some((p) => /vulnerabilities\.0\.analysis: a not_affected state needs a justification or a detail/.test(p)));
  });
});

void describe('which statement suppresses a finding', () => {
  const statements = (doc: unknown, subjectDigests: string[] = []) => {
    const read = readVexDocument(doc, 'doc', { subjectDigests });
    assert.ok(read.ok, read.ok ? '' : read.problems.join('\n'));
    return read.statements;
  };

  void it('a not_affected statement for a subcomponent of this image digest, matched by alias', () => {
    const outcome = vexOutcome(libssl, statements(SPEC_IMAGE), IMAGE, NOW);
    assert.equal(outcome.suppressedBy?.status, 'not_affected');
  });

  void it('not for another image digest, another package, or another vulnerability', () => {
    const other = `sha256:${'cd'.repeat(32)}`;
    assert.equal(vexOutcome(libssl, statements(SPEC_IMAGE), other, NOW).suppressedBy, undefined);
    assert.equal(
      vexOutcome({ ...libssl, package: 'libc6', purl: 'pkg:deb/debian/libc6@2.36-9?arch=amd64' }, statements(SPEC_IMAGE), IMAGE, NOW).suppressedBy,
      undefined,
    );
    assert.equal(vexOutcome({ ...libssl, id: 'CVE-2024-0001', aliases: [] }, statements(SPEC_IMAGE), IMAGE, NOW).suppressedBy, undefined);
  });

  void it('a fixed statement naming the package purl, whatever the image', () => {
    const git = { id: 'CVE-2014-123456', aliases: [], package: 'git', purl: 'pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64&distro=wolfi' };
    assert.equal(vexOutcome(git, statements(SPEC_FIXED), IMAGE, NOW).suppressedBy?.status, 'fixed');
    assert.equal(
      vexOutcome({ ...git, purl: 'pkg:apk/wolfi/git@2.38.0-r0?arch=x86_64' }, statements(SPEC_FIXED), IMAGE, NOW).suppressedBy,
      undefined,
      'another version',
    );
    assert.equal(
      vexOutcome({ ...git, purl: 'pkg:apk/wolfi/git@2.39.0-r1?arch=aarch64' }, statements(SPEC_FIXED), IMAGE, NOW).suppressedBy,
      undefined,
      'another arch',
    );
  });

  void it('affected and under_investigation never suppress', () => {
    const doc = { ...SPEC_FIXED, statements: [{ vulnerability: { name: 'CVE-2014-123456' }, status: 'under_investigation' }] };
    assert.equal(vexOutcome({ id: 'CVE-2014-123456', aliases: [], package: 'git' }, statements(doc, [IMAGE]), IMAGE, NOW).suppressedBy, undefined);
  });

  void it('the newest statement of an author wins: affected after not_affected un-suppresses', () => {
    const doc = {
      ...SPEC_IMAGE,
      statements: [
        { ...SPEC_IMAGE.statements[0], timestamp: '2023-09-01T00:00:00Z' },
        { ...SPEC_IMAGE.statements[0], justification: undefined, status: 'affected', action_statement: 'upgrade libssl3', timestamp: '2023-10-01T00:00:00Z' },
      ],
    };
    assert.equal(vexOutcome(libssl, statements(doc), IMAGE, NOW).suppressedBy, undefined);
  });

  void it('an expired statement no longer suppresses, and says so', () => {
    const read = readVexDocument(SPEC_IMAGE, 'doc', { expires: '2026-05-01' });
    assert.ok(read.ok);
    const outcome = vexOutcome(libssl, read.statements, IMAGE, NOW);
    assert.equal(outcome.suppressedBy, undefined);
    assert.equal(outcome.expired?.vulnerability, 'CVE-2023-1234');
    const later = readVexDocument(SPEC_IMAGE, 'doc', { expires: '2026-07-01T00:00:00Z' });
    assert.ok(later.ok && vexOutcome(libssl, later.statements, IMAGE, NOW).suppressedBy);
  });
});

void describe('purl comparison', () => {
  for (const [statement, actual, expected] of [
    ['pkg:npm/%40scope/pkg@1.0.0', 'pkg:npm/%40scope/pkg@1.0.0', true],
    ['pkg:npm/@scope/pkg', 'pkg:npm/%40scope/pkg@2.0.0', true],
    ['pkg:pypi/Django_Rest', 'pkg:pypi/django-rest@3.0', true],
    ['pkg:deb/debian/openssl@3.0.11-1', 'pkg:deb/debian/openssl@3.0.11-2', false],
    ['pkg:deb/debian/openssl', 'pkg:rpm/debian/openssl@1', false],
    ['pkg:golang/github.com/a/b@v1.2.3', 'pkg:golang/github.com/a/b@v1.2.3', true],
  ] as const) {
    void it(`${statement} ${expected ? 'covers' : 'does not cover'} ${actual}`, () => assert.equal(purlCovers(statement, actual), expected));
  }
});
