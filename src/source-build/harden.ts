/**
 * Hardening of a built image's filesystem, done from the host on the mounted root so it needs no
 * tools inside the image (distroless and scratch images have none): setuid/setgid bits removed from
 * every regular file, and the USER the image runs as resolved against its own /etc/passwd.
 */
import { chmod, lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRootUser } from '../scan';

const SPECIAL_BITS = 0o6000;

/**
 * Clears setuid and setgid on regular files below `root` (symlinks are not followed; setgid
 * directories, which only steer group inheritance, are left alone). Returns the image paths changed.
 */
export async function stripSetuidBits(root: string): Promise<string[]> {
  const changed: string[] = [];
  const walk = async (dir: string, imagePath: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      const path = `${imagePath}/${entry.name}`;
      if (entry.isDirectory()) {
        await walk(full, path);
      } else if (entry.isFile()) {
        const { mode } = await lstat(full);
        if ((mode & SPECIAL_BITS) === 0) continue;
        await chmod(full, mode & 0o7777 & ~SPECIAL_BITS);
        changed.push(path);
      }
    }
  };
  await walk(root, '');
  return changed.sort();
}

/** The image's /etc/passwd, unless it is missing or not a regular file (a symlink could point at the host). */
async function readPasswd(root: string): Promise<string | undefined> {
  const path = join(root, 'etc', 'passwd');
  try {
    if (!(await lstat(path)).isFile()) return undefined;
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Does `user` (the image config's USER, '' = unset) run as uid 0 inside the image mounted at `root`? */
export async function runsAsRoot(root: string, user: string): Promise<boolean> {
  return isRootUser(user, await readPasswd(root));
}
