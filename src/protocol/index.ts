/** The snapshot wire contract: constants, pure builders and parsers. No I/O. */
export * from './constants.js';
export * from './types.js';
export * from './ids.js';
export * from './location.js';
export * from './storage.js';
export * from './manifest.js';
export * from './objects.js';
export * from './verdict.js';
export * from './affinity.js';
export * from './identity.js';
export * from './names.js';
export * from './yaml-input.js';
