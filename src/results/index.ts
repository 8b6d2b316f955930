export * from './types.js';
export * from './status.js';
export * from './build.js';
export * from './summary.js';
export * from './merge.js';
