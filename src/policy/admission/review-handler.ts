import { ChainError } from '../../errors';
import { type AdmissionResponse, admissionReviewSchema, uidOf } from './admission-review';
import { type ImageAdmission, type ImageVerdict } from './image-admission';
import { type ContainerImage, isCheckedKind, podImages } from './pod-images';

/**
 * Answers one AdmissionReview body. Every container image must be admitted; denials that only
 * warn (dry-run) become warnings of an allowed answer. Returns undefined when the body is so
 * malformed that no uid can be answered (the server then replies 400). `shutdown` aborts the
 * checks still running when the server stops.
 */
export async function answerReview(body: unknown, images: ImageAdmission, deadlineMs: number, shutdown?: AbortSignal): Promise<AdmissionResponse | undefined> {
  const parsed = admissionReviewSchema.safeParse(body);
  if (!parsed.success) {
    const uid = uidOf(body);
    if (uid === undefined) return undefined;
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return { uid, allowed: false, status: { code: 400, reason: 'BadRequest', message: `malformed AdmissionReview: ${problems}` } };
  }
  const request = parsed.data.request;
  const kind = request.kind.kind;
  if (request.operation === 'DELETE' || request.operation === 'CONNECT' || !isCheckedKind(kind)) return { uid: request.uid, allowed: true };

  let containers: ContainerImage[];
  try {
    containers = podImages(kind, request.object);
    // An UPDATE is judged on what it changes: images already running under the old object were admitted
    // (or predate the webhook) and must not block labels, status, scaling or finalizer removal.
    if (request.operation === 'UPDATE') containers = newOrChanged(containers, kind, request.oldObject);
  } catch (err) {
    const message = ChainError.is(err) ? err.message : String(err);
    return { uid: request.uid, allowed: false, status: { code: 400, reason: 'BadRequest', message } };
  }
  if (containers.length === 0) return { uid: request.uid, allowed: true };

  // The deadline is a timer this request holds, not AbortSignal.timeout: inside AbortSignal.any, Node 20 holds
  // a timeout signal only weakly, and a garbage collection before it fires loses it (nodejs/node#57736). The
  // check then never timed out, and a hung registry reached kubectl as the API server's "context deadline
  // exceeded" instead of the webhook's reason.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new DOMException(`no answer within ${deadlineMs} ms`, 'TimeoutError')), deadlineMs);
  const signal = shutdown ? AbortSignal.any([shutdown, deadline.signal]) : deadline.signal;
  let verdicts: ImageVerdict[];
  try {
    verdicts = await Promise.all(containers.map((c) => withDeadline(images.admit(c, request.namespace, signal), signal, deadlineMs, c.container)));
  } finally {
    clearTimeout(timer);
  }
  const warnings = verdicts.flatMap((v) => v.warnings);
  const blocking: string[] = [];
  for (const v of verdicts) {
    if (v.allowed) continue;
    if (v.blocking) blocking.push(v.message);
    else warnings.push(`dry-run, would deny: ${v.message}`);
  }
  if (blocking.length === 0) return { uid: request.uid, allowed: true, warnings };
  return { uid: request.uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: blocking.join('; ') }, warnings };
}

/** Containers whose image is not already used, under the same container name, by the old object. */
function newOrChanged(containers: ContainerImage[], kind: string, oldObject: unknown): ContainerImage[] {
  if (oldObject === undefined || oldObject === null) return containers;
  let old: ContainerImage[];
  try {
    old = podImages(kind, oldObject);
  } catch {
    return containers; // an old object without a readable pod spec vouches for nothing
  }
  const before = new Set(old.map((c) => `${c.container}\n${c.image}`));
  return containers.filter((c) => !before.has(`${c.container}\n${c.image}`));
}

/** A check that fails or does not finish in time denies (the webhook's failurePolicy is Fail anyway). */
async function withDeadline(check: Promise<ImageVerdict>, signal: AbortSignal, ms: number, container: string): Promise<ImageVerdict> {
  const denied = (message: string): ImageVerdict => ({ allowed: false, blocking: true, message, warnings: [] });
  const failed = (why: string): ImageVerdict => denied(`${container}: could not be checked (${why})`);
  const timedOut = () => signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError';
  const expired = (): ImageVerdict => (timedOut() ? denied(`${container}: could not be checked within ${ms} ms`) : failed('the webhook is shutting down'));
  let onAbort: (() => void) | undefined;
  const cancelled = new Promise<ImageVerdict>((resolve) => {
    onAbort = () => resolve(expired());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([check.catch((err: unknown): ImageVerdict => (signal.aborted ? expired() : failed((err as Error).message))), cancelled]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
