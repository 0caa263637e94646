export { inventoryConfigSchema, type InventoryConfig } from '../config/sections/inventory';
export { KubeApi, KubeApiError, kubeApiSettings, type KubeApiSettings } from './kube-api';
export { podDigests, podSchema, type Pod } from './pods';
export { type DeploymentRecord, InventoryStore, type Owner, ownerWorkloads } from './store';
export { watchPods, type WatcherOptions } from './watcher';
export { postImageVulnerableEvents } from './events';
