/**
 * `dchain build <git-url> --ref <ref>`: a source build. By default it starts the build's delivery
 * chain on Temporal (pinned to the ref's current commit); `--local` runs the build stage here,
 * without Temporal, and prints the pushed image with its provenance.
 */
import { type Command } from 'commander';
import { buildFromSource, buildRequestFromPush, resolveRemoteRef, stagingRepository, startBuildChain, templateValues } from '../../src/source-build';
import { type BuildRequest, parseBuildRequest } from '../../src/chain';
import { type Config } from '../../src/config';
import { ChainError } from '../../src/errors';
import { RegistryDirectory } from '../../src/registry';
import { cliConfig, connectWorkflowStarter } from '../context';

interface BuildOptions {
  ref: string;
  tag: string[];
  repository?: string;
  dockerfile?: string;
  context?: string;
  buildArg: string[];
  local?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function buildArgs(pairs: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ChainError('BAD_INPUT', `--build-arg ${pair}: expected NAME=value`);
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return args;
}

/** The request for a ref's current commit: explicit options first, then the first matching build rule, then defaults. */
export async function requestFor(config: Config, repoUrl: string, opts: BuildOptions): Promise<BuildRequest> {
  const { ref, commit } = await resolveRemoteRef(repoUrl, opts.ref);
  const push = { repoUrl, ref, commit, source: 'cli' };
  const ruled = buildRequestFromPush(push, config.build.rules, config.build.staging);
  return parseBuildRequest({
    repoUrl,
    ref,
    commit,
    registry: config.build.staging.registry,
    repository: opts.repository ?? ruled?.repository ?? stagingRepository(config.build.staging.repository, templateValues(push)),
    tags: opts.tag.length > 0 ? opts.tag : (ruled?.tags ?? []),
    dockerfile: opts.dockerfile ?? ruled?.dockerfile ?? 'Dockerfile',
    context: opts.context ?? ruled?.context ?? '.',
    buildArgs: { ...ruled?.buildArgs, ...buildArgs(opts.buildArg) },
    source: 'cli',
  });
}

export function register(program: Command): void {
  program
    .command('build')
    .description('build a Git ref with buildah and run it through the delivery chain')
    .argument('<git-url>', 'repository to clone (https://, ssh://, file:// or a path)')
    .requiredOption('--ref <ref>', 'branch, tag or full ref to build (pinned to its current commit)')
    .option('-t, --tag <tag>', "image tag (repeatable); default: the matching build rule's tags, else sha-<commit>", collect, [])
    .option('--repository <repo>', "staging repository; default: the matching rule's image or build.staging.repository")
    .option('-f, --dockerfile <path>', 'Dockerfile inside the repository')
    .option('--context <path>', 'build context inside the repository')
    .option('--build-arg <name=value>', 'build argument (repeatable)', collect, [])
    .option('--local', 'run the build here without Temporal and print the result')
    .option('--json', 'machine-readable output')
    .action(async (repoUrl: string, opts: BuildOptions) => {
      const config = cliConfig(program.opts());
      const request = await requestFor(config, repoUrl, opts);
      const out = (value: unknown, text: string) => process.stdout.write(opts.json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
      if (!opts.local) {
        const { starter, close } = await connectWorkflowStarter(config);
        try {
          const started = await startBuildChain(starter, config, request);
          out({ ...started, request }, `${started.outcome === 'started' ? 'started' : 'already running or done'}: ${started.workflowId}`);
        } finally {
          await close();
        }
        return;
      }
      const registries = new RegistryDirectory(config.registries);
      const built = await buildFromSource(request, {
        config,
        registry: registries.client(request.registry),
        onProgress: (p) => {
          if (!opts.json) process.stderr.write(p.line !== undefined ? `  ${p.line}\n` : `» ${p.phase}\n`);
        },
      });
      const lines = [
        `${registries.hostOf(request.registry)}/${built.repository}@${built.digest}`,
        `tags: ${built.tags.join(', ')} · commit ${built.commit} · ${built.multiStage ? 'multi-stage' : 'single-stage'} · user ${built.user || '(unset)'}${built.runsAsRoot ? ' (root)' : ''}`,
        `setuid/setgid stripped: ${built.strippedSetuid.length > 0 ? built.strippedSetuid.join(', ') : 'none'}`,
        ...built.warnings.map((w) => `warning: ${w}`),
      ];
      out(built, lines.join('\n'));
    });
}
