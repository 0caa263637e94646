/**
 * Node flags of a Temporal worker process (chain and scan roles), wherever it is started: the stack,
 * the cluster topology, the manifests in deploy/ (which spell them out) and the rescan bench.
 *
 * Why a larger young generation: a fleet rescan parses, matches and re-gates hundreds of images per
 * activity, each leaving a few MB of short-lived objects (its package list, findings, decision record).
 * With V8's default semi-space (16 MB on 64-bit) those outlived their scavenge and were promoted, and
 * garbage collection took 11 s of a 1,000-image rescan bench's 76 s of worker CPU; with 64 MB it took
 * 4.4 s (CPU profiles of the same bench, `RESCAN_BENCH_CPU_PROF`). It costs at most the extra young
 * generation (about 150 MB) in a process that holds the OSV data, several hundred MB, anyway.
 */
export const TEMPORAL_WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
