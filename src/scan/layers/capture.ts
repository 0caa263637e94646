/** What the layer reader keeps or inspects while streaming, declared by catalogers and checks. */

export interface ContentInspector {
  /** Key of the fact this inspector attaches to a file node. */
  name: string;
  /** Cheap pre-check on metadata alone; files no inspector is a candidate for are skipped unread. */
  candidate(path: string, mode: number, size: number): boolean;
  /** Decides from the first bytes whether to read the whole file. */
  accepts(head: Buffer): boolean;
  /** Extracts a fact from the content, or undefined when there is nothing to report. */
  inspect(path: string, content: Buffer): unknown | Promise<unknown>;
  /**
   * `inspect` is synchronous and keeps nothing of `content` (no view, no buffer in the fact) once it returns: the
   * reader may then pass it a view of its own read buffer, valid for the call only, instead of a copy of the file.
   */
  inPlace?: boolean;
}

export interface CapturePolicy {
  /** Keep this file's content in the final view (package databases, manifests, os-release). */
  keep(path: string, size: number): boolean;
  inspectors: ContentInspector[];
}

export function combinePolicies(policies: CapturePolicy[]): CapturePolicy {
  return {
    keep: (path, size) => policies.some((p) => p.keep(path, size)),
    inspectors: policies.flatMap((p) => p.inspectors),
  };
}
