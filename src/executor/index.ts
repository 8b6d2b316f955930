export * from './clock.js';
export * from './interrupt.js';
export * from './run-hosts.js';
export * from './budget.js';
