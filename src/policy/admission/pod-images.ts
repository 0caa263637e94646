import { z } from 'zod';
import { ChainError } from '../../errors';

const containerSchema = z.object({ name: z.string().min(1), image: z.string().min(1, 'image must not be empty') });
const podSpecSchema = z.object({
  containers: z.array(containerSchema).min(1),
  initContainers: z.array(containerSchema).optional(),
  ephemeralContainers: z.array(containerSchema).optional(),
});

export interface ContainerImage {
  /** e.g. containers[app], initContainers[migrate] */
  container: string;
  image: string;
}

/** Where each workload kind keeps its pod spec. */
const POD_SPEC_PATH: Record<string, readonly string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

export function isCheckedKind(kind: string): boolean {
  return kind in POD_SPEC_PATH;
}

/** Every container, init container and ephemeral container image of a Pod or workload object. */
export function podImages(kind: string, object: unknown): ContainerImage[] {
  const path = POD_SPEC_PATH[kind];
  if (!path) throw new ChainError('BAD_INPUT', `kind ${kind} carries no pod template`);
  let spec: unknown = object;
  for (const key of path) spec = spec !== null && typeof spec === 'object' ? (spec as Record<string, unknown>)[key] : undefined;
  const parsed = podSpecSchema.safeParse(spec);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${[...path, ...i.path].join('.')}: ${i.message}`).join('; ');
    throw new ChainError('BAD_INPUT', `${kind} object has no valid pod spec (${problems})`);
  }
  const list = (field: 'initContainers' | 'containers' | 'ephemeralContainers') =>
    (parsed.data[field] ?? []).map((c) => ({ container: `${field}[${c.name}]`, image: c.image }));
  return [...list('initContainers'), ...list('containers'), ...list('ephemeralContainers')];
}
