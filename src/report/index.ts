export { createRenderer, builtinTemplateDir, FORMATS, EXTENSIONS, LAYOUT } from './renderer.js';
export type { Renderer, ReportFormat } from './renderer.js';
export { checkReportDir, printReport, renderReport, writeReports, safeFileName } from './render.js';
export type { WriteReportsOptions } from './render.js';
export { reportDataFromStored, fleetView, hostView, groupHosts, sortHosts, needsAttention, summarize, diffLines } from './view.js';
export type { ReportData, FleetView, HostView, GroupView, HistoryView, JunitCase } from './view.js';
export { foldHosts, naturalCompare } from './hostset.js';
export { escapeMarkdown, escapeXml, escapeHtml, cdata, markdownBlock, markdownCode, markdownWithCode, htmlWithCode, safeJson } from './escape.js';
export { humanNumber, humanValue } from './numbers.js';
