/**
 * Image hygiene from the config and the final filesystem: setuid/setgid files, shells and network
 * tools, the user the image runs as, private keys, size, and wasted bytes across layers.
 */
import { baseName, parentOf } from '../fs/path';
import { type FileTree } from '../fs/tree';
import { type CapturePolicy } from '../layers/capture';
import { type HygieneIssue, type HygieneResult } from '../types';

const BIN_DIRS = new Set(['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin']);
const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'csh', 'tcsh', 'fish', 'busybox']);
const NETWORK_TOOLS = new Set(['nc', 'ncat', 'netcat', 'nc.openbsd', 'nc.traditional', 'curl', 'wget', 'telnet', 'socat', 'ssh', 'scp', 'sftp', 'ftp', 'tftp']);
const PRIVATE_KEY_FACT = 'private-key';
const MAX_KEY_FILE_BYTES = 64 * 1024;
const KEY_MARKERS = [Buffer.from('PRIVATE KEY-----'), Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----')];

/** Files the hygiene checks need while streaming: /etc/passwd, and small files that may hold keys. */
export const hygienePolicy: CapturePolicy = {
  keep: (path) => path === '/etc/passwd',
  inspectors: [
    {
      name: PRIVATE_KEY_FACT,
      candidate: (_path, _mode, size) => size >= 64 && size <= MAX_KEY_FILE_BYTES,
      // The marker may sit past the first chunk: read every candidate whole (they are small).
      accepts: () => true,
      inspect: (_path, content) => (content.includes('-----BEGIN') && KEY_MARKERS.some((m) => content.includes(m)) ? true : undefined),
      inPlace: true,
    },
  ],
};

export interface HygieneInput {
  tree: FileTree;
  user: string | undefined;
  layerSizes: number[];
  /** Efficiency below which an issue is raised (Dive's CI default is 0.9). */
  minEfficiency?: number;
  /** Uncompressed size above which an issue is raised; unset = no size issue. */
  maxSizeBytes?: number;
}

/** Does the USER run as uid 0? Names are looked up in the image's /etc/passwd. */
export function isRootUser(user: string, passwd: string | undefined): boolean {
  const name = user.split(':')[0]!.trim();
  if (name === '' || name === 'root' || name === '0') return true;
  if (/^\d+$/.test(name)) return false;
  for (const line of (passwd ?? '').split('\n')) {
    const [login, , uid] = line.split(':');
    if (login === name) return uid === '0';
  }
  return false;
}

export function checkHygiene(input: HygieneInput): HygieneResult {
  const { tree } = input;
  const setuidFiles: string[] = [];
  const shells: string[] = [];
  const networkTools: string[] = [];
  const privateKeys: string[] = [];
  let totalSizeBytes = 0;
  for (const node of tree.files()) {
    const target = node.type === 'hardlink' || node.type === 'symlink' ? tree.resolve(node.path) : node;
    if (node.type === 'file') totalSizeBytes += node.size;
    if ((node.type === 'file' || node.type === 'hardlink') && target?.type === 'file' && (target.mode & 0o6000) !== 0) setuidFiles.push(node.path);
    if (node.facts?.[PRIVATE_KEY_FACT]) privateKeys.push(node.path);
    if (!BIN_DIRS.has(parentOf(node.path)) || target?.type !== 'file') continue;
    const name = baseName(node.path);
    if (SHELLS.has(name)) shells.push(node.path);
    if (NETWORK_TOOLS.has(name)) networkTools.push(node.path);
  }
  const user = input.user ?? '';
  const runsAsRoot = isRootUser(user, tree.read('/etc/passwd')?.toString('utf8'));
  const written = tree.writtenBytes;
  const efficiency = written === 0 ? 1 : 1 - tree.wastedBytes / written;
  const issues: HygieneIssue[] = [];
  const sorted = (l: string[]) => l.sort();
  if (setuidFiles.length)
    issues.push({ check: 'setuid', subjects: sorted(setuidFiles), message: `${setuidFiles.length} file(s) with the setuid or setgid bit` });
  if (shells.length) issues.push({ check: 'shell', subjects: sorted(shells), message: `shell(s) present: ${shells.map(baseName).join(', ')}` });
  if (networkTools.length)
    issues.push({ check: 'network-tool', subjects: sorted(networkTools), message: `network tool(s) present: ${networkTools.map(baseName).join(', ')}` });
  if (runsAsRoot)
    issues.push({ check: 'root-user', subjects: [user], message: user === '' ? 'USER is not set: the image runs as root' : `USER ${user} is root` });
  if (privateKeys.length)
    issues.push({ check: 'private-key', subjects: sorted(privateKeys), message: `${privateKeys.length} file(s) containing a private key` });
  if (input.maxSizeBytes !== undefined && totalSizeBytes > input.maxSizeBytes)
    issues.push({ check: 'size', subjects: [], message: `image is ${totalSizeBytes} bytes, above ${input.maxSizeBytes}` });
  if (efficiency < (input.minEfficiency ?? 0.9))
    issues.push({
      check: 'efficiency',
      subjects: [],
      message: `${tree.wastedBytes} bytes wasted by files overwritten or deleted in later layers (efficiency ${(efficiency * 100).toFixed(1)}%)`,
    });
  return {
    setuidFiles,
    shells,
    networkTools,
    user,
    runsAsRoot,
    privateKeys,
    totalSizeBytes,
    compressedSizeBytes: input.layerSizes.reduce((a, b) => a + b, 0),
    layerCount: input.layerSizes.length,
    wastedBytes: tree.wastedBytes,
    efficiency,
    issues,
  };
}
