// The workflow bundle's entry: every workflow type the worker runs is exported here.
export { deliveryChain } from './delivery-chain';
export { reconcile } from './reconcile';
export { rescan } from './rescan';
export { deliverTags } from './deliver-tags';
export { scanJob } from './scan-job';
