import { type Command } from 'commander';
import { type Config } from '../../src/config';
import { ChainError } from '../../src/errors';
import { createLogger } from '../../src/log';
import {
  admissionDepsFromConfig,
  admissionRedis,
  buildAdmissionServer,
  DecisionStore,
  evaluatePolicy,
  type ImageFacts,
  lintPolicy,
  type LoadedPolicy,
  loadPolicyFile,
  policyFromConfig,
  policyJsonSchema,
  readFactsFile,
  signatureCheckFromVerifier,
  summarizeDecision,
} from '../../src/policy';
import { parseImageReference, RegistryDirectory } from '../../src/registry';
import { verifyImage } from '../../src/signing';
import { describeRedis, redisTarget } from '../../src/ingest';
import { reloadCertificates } from '../../src/security';
import { instrumentAdmission } from '../admission-metrics';
import { cliConfig, withRedis } from '../context';

/** The admission webhook exits within this long of SIGTERM (Kubernetes' grace period is 30 s; rollouts wait for it). */
const SHUTDOWN_MS = 4_500;
/** How often the admission webhook's certificate files are checked for a renewed certificate. */
const ADMISSION_TLS_RELOAD_MS = 10_000;

/** `dchain policy check|schema|test|admission`. */
export function register(program: Command): void {
  const policy = program.command('policy').description('image policy: lint policy files, test images against them, run the admission webhook');

  policy
    .command('check <file>')
    .description('validate a policy file and warn about expired allowlist entries and rules that check nothing')
    .option('--json', 'machine-readable output')
    .action((file: string, opts: { json?: boolean }) => {
      const loaded = loadPolicyFile(file);
      const warnings = lintPolicy(loaded, new Date());
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ valid: true, version: loaded.version, rules: loaded.policy.rules.map((r) => r.name), warnings }, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${file}: valid policy ${loaded.version} (${loaded.policy.mode}, ${loaded.policy.rules.length} rule${loaded.policy.rules.length > 1 ? 's' : ''})\n`,
      );
      for (const w of warnings) process.stdout.write(`  warning: ${w}\n`);
    });

  policy
    .command('schema')
    .description('print the JSON Schema of policy files (for editors: policy/policy.schema.json)')
    .action(() => {
      process.stdout.write(`${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
    });

  policy
    .command('test <image>')
    .description('evaluate an image against the policy and print the decision; records nothing (exit 3 when denied)')
    .option('-p, --policy <file>', 'policy file (default: the configured one)')
    .option('--facts <file>', 'image facts or scan summary JSON (default: the facts of the latest gate decision in Redis)')
    .option('-n, --namespace <namespace>', 'evaluate as admission would in this Kubernetes namespace')
    .option('--json', 'print the decision as JSON')
    .action(async (image: string, opts: { policy?: string; facts?: string; namespace?: string; json?: boolean }) => {
      const config = cliConfig(program.opts());
      const loaded = opts.policy ? loadPolicyFile(opts.policy) : policyFromConfig(config);
      const facts = opts.facts ? readFactsFile(opts.facts) : await storedFacts(config, loaded, image);
      const decision = evaluatePolicy(facts, loaded, new Date(), opts.namespace === undefined ? {} : { namespace: opts.namespace });
      process.stdout.write(opts.json ? `${JSON.stringify(decision, null, 2)}\n` : `${summarizeDecision(decision)}\n`);
      if (!decision.allowed) process.exitCode = 3;
    });

  policy
    .command('admission')
    .description('run the Kubernetes validating admission webhook (HTTPS, policy.admission in the configuration)')
    .action(async () => {
      const config = cliConfig(program.opts());
      const logger = createLogger({ level: config.log.level });
      // Starts even while Redis is down: reviews are then refused with the outage named (fail closed).
      const registryOnly = config.policy.admission.mode === 'registry-only';
      const { redis, label } = registryOnly
        ? { redis: undefined, label: 'none: registry-only mode' }
        : admissionRedis(redisTarget(config), describeRedis(config));
      const app = await buildAdmissionServer(admissionDepsFromConfig(config, redis, logger, undefined, label));
      instrumentAdmission(app);
      // A renewed webhook certificate (cert-manager, a rotated Secret) is served without a restart.
      const { tlsCertFile, tlsKeyFile } = config.policy.admission;
      if (tlsCertFile && tlsKeyFile) {
        const stopReload = reloadCertificates(app.server, { certFile: tlsCertFile, keyFile: tlsKeyFile }, logger, ADMISSION_TLS_RELOAD_MS);
        app.addHook('onClose', async () => stopReload());
      }
      await app.listen({ host: config.policy.admission.host, port: config.policy.admission.port });
      logger.info({ host: config.policy.admission.host, port: config.policy.admission.port, decisionStore: label }, 'admission webhook listening');
      const stop = () => {
        // Checks in flight are cancelled by close(); the timer only guards against a handle left open.
        setTimeout(() => process.exit(0), SHUTDOWN_MS).unref();
        void app.close().finally(() => {
          redis?.disconnect();
          process.exit(0);
        });
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}

/** The facts of the image's latest gate decision, with signatures checked live against the policy's keys. */
async function storedFacts(config: Config, loaded: LoadedPolicy, image: string): Promise<ImageFacts> {
  const ref = parseImageReference(image);
  const registries = new RegistryDirectory(config.registries);
  const client = registries.find(ref.registry) ? registries.client(ref.registry) : undefined;
  const digest = ref.digest ?? (await client?.headManifest(ref.repository, ref.tag ?? 'latest'))?.digest;
  if (!digest) throw new ChainError('NOT_FOUND', `cannot resolve ${image} to a digest${client ? '' : `: registry ${ref.registry} is not configured`}`);
  const record = await withRedis(config, (redis) => new DecisionStore(redis).latest(digest));
  if (!record) throw new ChainError('NOT_FOUND', `no gate decision recorded for ${ref.registry}/${ref.repository}@${digest}; pass --facts <scan.json>`);
  if (!client || loaded.keys.size === 0) return record.facts;
  const check = signatureCheckFromVerifier((img, keys) => verifyImage(client, img.repository, img.digest, keys), loaded.keys);
  const found = await check({ registry: ref.registry, repository: ref.repository, digest });
  return { ...record.facts, signatures: found.signedBy.map((keyId) => ({ keyId })), attestations: found.attestations };
}
