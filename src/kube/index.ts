/** The Kubernetes seam in one import: client, config, errors, wait, and the types. */
export { createKubeClient, createKubeClientFromConfig, resourcePath, PATCH_CONTENT_TYPES, type CreateKubeClientOptions, type RetryPolicy } from './client.js';
export { loadKubeConfig, type LoadedKubeConfig, type LoadKubeConfigOptions } from './config.js';
export { ApiError, describeApiError, explainApiError, describeObject, isApiStatus, isTransient, toClusterError, type Verb } from './errors.js';
export { waitForObject, type WaitForOptions } from './wait.js';
export * from './types.js';
