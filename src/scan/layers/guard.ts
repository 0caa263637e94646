/**
 * The scan-wide limits no single stream can enforce: wall time and the process's resident memory.
 * When one is exceeded the guard destroys every layer stream in flight with the TOO_LARGE error, so
 * the scan stops where it is instead of finishing, and later steps check `throwIfStopped`.
 */
import { type Readable } from 'node:stream';
import { ChainError } from '../../errors';
import { type LayerLimits } from './limits';

const RSS_SAMPLE_MS = 100;
const MiB = 1024 ** 2;

export class ScanGuard {
  private stopped: ChainError | undefined;
  private readonly streams = new Set<Readable>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Highest RSS sampled while the guard ran. */
  peakRss = 0;

  constructor(
    limits: Pick<LayerLimits, 'maxScanSeconds' | 'maxRssBytes'>,
    private readonly what: string,
  ) {
    this.timers.push(
      setTimeout(
        () => this.stop(new ChainError('TOO_LARGE', `scan of ${what} exceeded its time limit of ${limits.maxScanSeconds} s`)),
        limits.maxScanSeconds * 1000,
      ).unref(),
    );
    const sample = () => {
      const rss = process.memoryUsage.rss();
      if (rss > this.peakRss) this.peakRss = rss;
      if (limits.maxRssBytes > 0 && rss > limits.maxRssBytes) {
        this.stop(
          new ChainError(
            'TOO_LARGE',
            `scan of ${what} stopped: the scanner's memory (RSS ${Math.round(rss / MiB)} MiB) exceeds its limit of ${Math.round(limits.maxRssBytes / MiB)} MiB`,
          ),
        );
      }
    };
    sample();
    this.timers.push(setInterval(sample, RSS_SAMPLE_MS).unref());
  }

  /** Streams destroyed (with the limit's error) when the scan is stopped. */
  track<T extends Readable>(stream: T): T {
    if (this.stopped) stream.destroy(this.stopped);
    else {
      this.streams.add(stream);
      stream.once('close', () => this.streams.delete(stream));
    }
    return stream;
  }

  stop(reason: ChainError): void {
    if (this.stopped) return;
    this.stopped = reason;
    for (const s of this.streams) s.destroy(reason);
    this.dispose();
  }

  throwIfStopped(): void {
    if (this.stopped) throw this.stopped;
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
  }
}
