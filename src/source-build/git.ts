/**
 * The source checkout: exactly the pushed commit (fetched by id, depth 1) or, when no commit is
 * given, the ref's current commit. Never prompts for credentials; never touches submodules.
 */
import { ChainError } from '../errors';
import { lastLines, locateTool, runTool, ToolFailure } from './run-tool';

const GIT_ENV = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', LC_ALL: 'C' };
const TIMEOUT_MS = 10 * 60_000;

/** What a ref may name on the remote: a full ref as given, or a short name as a branch, then a tag. */
function refPatterns(ref: string): string[] {
  if (ref.startsWith('refs/')) return [ref];
  return [`refs/heads/${ref}`, `refs/tags/${ref}`, ref];
}

function classify(err: unknown, what: string): ChainError {
  if (!(err instanceof ToolFailure)) return new ChainError('INTERNAL', `${what}: ${(err as Error).message}`, { cause: err });
  const text = err.stderr;
  if (err.reason === 'aborted') return new ChainError('TRANSIENT', `${what} was cancelled`, { cause: err });
  if (/couldn't find remote ref|not our ref|no such remote ref|unknown revision|did not match any|invalid refspec/i.test(text)) {
    return new ChainError('BAD_INPUT', `${what}: ${lastLines(text, 2)}`, { cause: err });
  }
  if (/does not appear to be a git repository|repository .* not found|not found$/im.test(text)) {
    return new ChainError('NOT_FOUND', `${what}: ${lastLines(text, 2)}`, { cause: err, retryable: false });
  }
  if (/authentication failed|could not read username|permission denied/i.test(text)) {
    return new ChainError('UNAUTHORIZED', `${what}: ${lastLines(text, 2)}`, { cause: err, retryable: false });
  }
  return new ChainError('SERVICE_UNREACHABLE', `${what}: ${lastLines(text, 3) || err.message}`, { cause: err });
}

function git(args: string[], opts: { cwd?: string; signal?: AbortSignal } = {}) {
  const executable = locateTool('git', 'Debian package git');
  return runTool(executable, ['-c', 'advice.detachedHead=false', '-c', 'init.defaultBranch=main', ...args], {
    label: `git ${args[0]}`,
    env: GIT_ENV,
    timeoutMs: TIMEOUT_MS,
    ...opts,
  });
}

/** The full name of a remote ref and the commit it points to (annotated tags peeled), without cloning. */
export async function resolveRemoteRef(repoUrl: string, ref: string, signal?: AbortSignal): Promise<{ ref: string; commit: string }> {
  let stdout: string;
  try {
    ({ stdout } = await git(['ls-remote', '--', repoUrl, ...refPatterns(ref)], { ...(signal ? { signal } : {}) }));
  } catch (err) {
    throw classify(err, `git ls-remote ${ref}`);
  }
  const lines = stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t') as [string, string]);
  for (const candidate of refPatterns(ref)) {
    const found = lines.find(([, name]) => name === `${candidate}^{}`) ?? lines.find(([, name]) => name === candidate);
    if (found) return { ref: candidate, commit: found[0] };
  }
  throw new ChainError('BAD_INPUT', `${ref} does not exist in ${repoUrl}`);
}

/**
 * Fetches `commit` (or the ref's tip) into an empty `dir` and checks it out. A server that refuses
 * fetching an unadvertised commit gets the ref fetched in full instead, and the commit checked out from it.
 * Returns the checked-out commit.
 */
export async function checkout(opts: { repoUrl: string; ref: string; commit?: string; dir: string; signal?: AbortSignal }): Promise<string> {
  const run = (args: string[]) => git(args, { cwd: opts.dir, ...(opts.signal ? { signal: opts.signal } : {}) });
  const what = `git fetch ${opts.ref}${opts.commit ? `@${opts.commit.slice(0, 12)}` : ''}`;
  try {
    await run(['init', '-q', '.']);
    if (opts.commit) {
      try {
        await run(['fetch', '-q', '--depth', '1', '--no-tags', '--', opts.repoUrl, opts.commit]);
      } catch {
        await run(['fetch', '-q', '--no-tags', '--', opts.repoUrl, opts.ref]);
      }
      await run(['checkout', '-q', '--detach', `${opts.commit}^{commit}`]);
    } else {
      await run(['fetch', '-q', '--depth', '1', '--no-tags', '--', opts.repoUrl, opts.ref]);
      await run(['checkout', '-q', '--detach', 'FETCH_HEAD^{commit}']);
    }
    return (await run(['rev-parse', 'HEAD'])).stdout.trim();
  } catch (err) {
    throw classify(err, what);
  }
}

/** Committer time of HEAD in Unix seconds: the build's fixed timestamp (as SOURCE_DATE_EPOCH), so a retried build yields the same digest. */
export async function commitTime(dir: string): Promise<number> {
  try {
    return Number((await git(['log', '-1', '--format=%ct'], { cwd: dir })).stdout.trim());
  } catch (err) {
    throw classify(err, 'git log');
  }
}
