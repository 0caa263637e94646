import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarizeDockerfile } from '../../../src/source-build/dockerfile';
import { ChainError } from '../../../src/errors/chain-error';

void describe('summarizeDockerfile', () => {
  void it('finds stages and external base images, skipping stage references and scratch', () => {
    const s = summarizeDockerfile(
      ['FROM golang:1.22 AS build', 'RUN go build ./...', 'FROM build AS test', 'FROM scratch', 'COPY --from=build /app /app'].join('\n'),
    );
    assert.equal(s.multiStage, true);
    assert.deepEqual(s.baseImages, ['golang:1.22']);
    assert.deepEqual(
      s.stages.map((st) => st.name ?? st.from),
      ['build', 'test', 'scratch'],
    );
  });

  void it('expands global ARGs (defaults, build args, ${VAR:-word}) in FROM', () => {
    const text = ['ARG REGISTRY=registry.example', 'ARG TAG', 'FROM ${REGISTRY}/base:${TAG:-latest}', 'FROM $REGISTRY/other:1'].join('\n');
    assert.deepEqual(summarizeDockerfile(text).baseImages, ['registry.example/base:latest', 'registry.example/other:1']);
    assert.deepEqual(summarizeDockerfile(text, { TAG: '2.0', REGISTRY: 'mirror.local' }).baseImages, ['mirror.local/base:2.0', 'mirror.local/other:1']);
  });

  void it('follows comments, line continuations, the escape directive, --platform and heredocs', () => {
    const text = [
      '# escape=`',
      '# a comment',
      'from --platform=linux/amd64 `',
      '  alpine:3.20 `',
      '  as base',
      'RUN <<EOF',
      'FROM not-an-instruction',
      'EOF',
      'FROM base',
    ].join('\r\n');
    const s = summarizeDockerfile(text);
    assert.deepEqual(s.baseImages, ['alpine:3.20']);
    assert.equal(s.stages.length, 2);
    assert.equal(s.multiStage, true);
  });

  void it('is single-stage with one FROM, and refuses a Dockerfile without FROM or with an empty image', () => {
    assert.equal(summarizeDockerfile('FROM busybox\nUSER 1000\n').multiStage, false);
    assert.throws(
      () => summarizeDockerfile('RUN true\n'),
      (e: unknown) => ChainError.is(e, 'BUILD_FAILED') && !e.retryable,
    );
    assert.throws(() => summarizeDockerfile('ARG BASE\nFROM ${BASE}\n'), /names no image/);
    assert.throws(() => summarizeDockerfile('FROM a b c\n'), /cannot read/);
  });
});
