import { ChainError } from '../../errors/chain-error';
import { type AdmissionResponse, admissionReviewSchema, uidOf } from './admission-review';
import { type ImageAdmission, type ImageVerdict } from './image-admission';
import { isCheckedKind, podImages } from './pod-images';

/**
 * Answers one AdmissionReview body. Every container image must be admitted; denials that only
 * warn (dry-run) become warnings of an allowed answer. Returns undefined when the body is so
 * malformed that no uid can be answered (the server then replies 400).
 */
export async function answerReview(body: unknown, images: ImageAdmission, deadlineMs: number): Promise<AdmissionResponse | undefined> {
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

  let containers;
  try {
    containers = podImages(kind, request.object);
  } catch (err) {
    const message = ChainError.is(err) ? err.message : String(err);
    return { uid: request.uid, allowed: false, status: { code: 400, reason: 'BadRequest', message } };
  }

  const verdicts = await Promise.all(containers.map((c) => withDeadline(images.admit(c, request.namespace), deadlineMs, c.container)));
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

/** A check that fails or does not finish in time denies (the webhook's failurePolicy is Fail anyway). */
async function withDeadline(check: Promise<ImageVerdict>, ms: number, container: string): Promise<ImageVerdict> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ImageVerdict>((resolve) => {
    timer = setTimeout(() => resolve({ allowed: false, blocking: true, message: `${container}: could not be checked within ${ms} ms`, warnings: [] }), ms);
  });
  try {
    return await Promise.race([
      check.catch((err: unknown): ImageVerdict => ({ allowed: false, blocking: true, message: `${container}: could not be checked (${(err as Error).message})`, warnings: [] })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
