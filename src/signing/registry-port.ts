/**
 * The part of the registry client that signing needs. `RegistryClient` from src/registry satisfies
 * it; keeping it narrow lets the domain state exactly what it reads and writes.
 */
export interface SignatureRegistry {
  /** host[:port] as written in image references. */
  readonly host: string;
  headManifest(repo: string, reference: string): Promise<{ digest: string; mediaType: string; size: number } | undefined>;
  getManifest(repo: string, reference: string): Promise<{ digest: string; mediaType: string; bytes: Buffer }>;
  putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string>;
  getBlob(repo: string, digest: string, opts?: { maxBytes?: number }): Promise<Buffer>;
  uploadBlob(repo: string, digest: string, data: Buffer, size?: number): Promise<void>;
}
