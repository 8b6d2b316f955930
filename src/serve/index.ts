export { startServe } from './server.js';
export type { ServeOptions, RunningServer } from './server.js';
export { ReadModel, PAGE_SIZE } from './queries.js';
export type { FleetView, HostView, RunView, CompareView, HostRow, Page } from './queries.js';
export { checkExposure, readToken, authorized, CSP } from './security.js';
