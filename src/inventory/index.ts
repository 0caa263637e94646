export { KubeApi, kubeApiSettings } from './kube-api';
export { type DeploymentRecord, InventoryStore, ownerWorkloads } from './store';
export { watchPods } from './watcher';
export { postImageVulnerableEvents } from './events';
