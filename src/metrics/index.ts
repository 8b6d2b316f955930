/** Prometheus metrics of a sweep: the exposition formats, the textfile writer, the /metrics server. */
export { render, negotiate, family, escapeLabelValue, escapeHelp, formatValue, CONTENT_TYPES } from './exposition.js';
export type { MetricFamily, MetricType, Sample, ExpositionFormat } from './exposition.js';
export { sweepFamilies, kernelHz, METRIC_STATES } from './sweep-metrics.js';
export { writeMetricsFile, metricsFileWriter, checkMetricsFile, writeFileAtomic } from './textfile.js';
export { startMetricsServer, serveSweepMetrics, parseListen, isLoopback, hostAllowed, LatestSweep } from './server.js';
export type { ListenAddress, MetricsServer } from './server.js';
