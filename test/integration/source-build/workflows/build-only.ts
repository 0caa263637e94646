/** A workflow that runs only the build stage, to test the buildImage activity under a real worker's retry policy. */
import { proxyActivities } from '@temporalio/workflow';
import type { ChainActivities } from '../../../../activities';
import type { BuildRequest } from '../../../../src/chain/build-request';
import type { BuiltImage } from '../../../../src/source-build/built-image';

const { buildImage } = proxyActivities<ChainActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '200ms', backoffCoefficient: 1, maximumAttempts: 3 },
});

export async function buildOnly(request: BuildRequest): Promise<BuiltImage> {
  return buildImage(request);
}
