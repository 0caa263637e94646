/** Where a copy stands; reported through `onProgress` (activity heartbeats) while it runs. */
export interface CopyProgress {
  blobsTotal: number;
  blobsDone: number;
  /** Blobs the target already had (or got by mount): nothing transferred. */
  blobsSkipped: number;
  bytesTotal: number;
  bytesDone: number;
  manifestsPushed: number;
}

/** Accumulates progress and reports it at most every `intervalMs` (and always on blob completion). */
export class ProgressTracker {
  readonly state: CopyProgress = { blobsTotal: 0, blobsDone: 0, blobsSkipped: 0, bytesTotal: 0, bytesDone: 0, manifestsPushed: 0 };
  private readonly inFlight = new Map<string, number>();
  private lastReport = 0;

  constructor(
    private readonly onProgress: ((p: CopyProgress) => void) | undefined,
    private readonly intervalMs = 500,
  ) {}

  addBlob(size: number): void {
    this.state.blobsTotal++;
    this.state.bytesTotal += size;
  }

  /** Bytes of one blob so far; a retried transfer starts again from 0. */
  blobBytes(digest: string, bytes: number): void {
    this.inFlight.set(digest, bytes);
    this.report(false);
  }

  blobDone(digest: string, size: number, transferred: boolean): void {
    this.inFlight.delete(digest);
    this.state.blobsDone++;
    this.state.bytesDone += size;
    if (!transferred) this.state.blobsSkipped++;
    this.report(true);
  }

  manifestPushed(): void {
    this.state.manifestsPushed++;
    this.report(true);
  }

  snapshot(): CopyProgress {
    let inFlight = 0;
    for (const bytes of this.inFlight.values()) inFlight += bytes;
    return { ...this.state, bytesDone: this.state.bytesDone + inFlight };
  }

  private report(force: boolean): void {
    if (!this.onProgress) return;
    const now = Date.now();
    if (!force && now - this.lastReport < this.intervalMs) return;
    this.lastReport = now;
    this.onProgress(this.snapshot());
  }
}
