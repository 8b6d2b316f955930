/**
 * What crosses between the play loop (run.ts) and whoever runs one play on one host: the host,
 * the state it carries from play to play, and the request and reply of one play. Defined with
 * the rest of the job protocol in src/host/jobs.ts; re-exported here for the playbook's callers.
 */
export { emptyState, type PlaybookHost, type HostState, type RemotePlayRequest, type RemotePlayReply } from '../host/jobs.js';
