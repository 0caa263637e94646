import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { applyEnvOverrides, parseConfig } from '../../../src/config/load';
import { redisTarget } from '../../../src/ingest';

const ROOT = resolve(__dirname, '..', '..', '..');

describe('cluster deployment descriptions', () => {
  it('the Kubernetes ConfigMap holds a configuration the processes accept: Sentinel, replica acks, the Temporal Service', () => {
    const docs = YAML.parseAllDocuments(readFileSync(join(ROOT, 'deploy/kubernetes/cluster/config.yaml'), 'utf8')).map(
      (d) => d.toJS() as { kind: string; data?: Record<string, string>; stringData?: Record<string, string> },
    );
    const configMap = docs.find((d) => d.kind === 'ConfigMap');
    const secret = docs.find((d) => d.kind === 'Secret');
    const env = secret?.stringData ?? {};
    const config = parseConfig(applyEnvOverrides(YAML.parse(configMap?.data?.['config.yaml'] ?? ''), env));
    assert.equal(config.temporal.address, 'temporal-frontend.temporal.svc:7233');
    assert.equal(config.ingest.replicaAcks, 1);
    const target = redisTarget(config) as Record<string, unknown>;
    assert.equal(target.name, 'dchain');
    assert.equal(target.password, env.DCHAIN_REDIS_PASSWORD, 'the Redis password comes from the Secret');
    assert.equal(config.sources[0]?.secret, env.DCHAIN_SOURCE_SOURCE_SECRET, 'the webhook secret comes from the Secret');
  });

  it('the compose profile configuration is accepted too', () => {
    const config = parseConfig(YAML.parse(readFileSync(join(ROOT, 'deploy/compose/cluster/config.yml'), 'utf8')));
    assert.equal(config.redis.sentinel?.sentinels.length, 3);
    assert.equal(config.temporal.address, 'temporal-balancer:7233');
  });
});
