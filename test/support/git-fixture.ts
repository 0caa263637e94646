/** A local bare Git repository with commits and tags, as a forge would host it. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const IDENTITY = ['-c', 'user.name=Test Pusher', '-c', 'user.email=pusher@example.test', '-c', 'init.defaultBranch=main'];

export class GitFixture {
  readonly bare: string;
  private readonly work: string;

  constructor(dir: string) {
    this.bare = join(dir, 'app.git');
    this.work = join(dir, 'work');
    this.git(dir, ['init', '-q', '--bare', this.bare]);
    this.git(dir, ['init', '-q', this.work]);
  }

  private git(cwd: string, args: string[]): string {
    return execFileSync('git', [...IDENTITY, ...args], { cwd, encoding: 'utf8' }).trim();
  }

  /** Commits the files on main, pushes, optionally tags (annotated) and pushes the tag; returns the commit. */
  commit(files: Record<string, string>, message: string, tag?: string): string {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(this.work, path)), { recursive: true });
      writeFileSync(join(this.work, path), content);
    }
    this.git(this.work, ['add', '-A']);
    this.git(this.work, ['commit', '-q', '-m', message]);
    this.git(this.work, ['push', '-q', this.bare, 'HEAD:refs/heads/main']);
    if (tag) {
      this.git(this.work, ['tag', '-a', '-m', tag, tag]);
      this.git(this.work, ['push', '-q', this.bare, `refs/tags/${tag}`]);
    }
    return this.git(this.work, ['rev-parse', 'HEAD']);
  }
}
