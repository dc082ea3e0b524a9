/** Reports of a deployment record: a self-contained HTML page and a Markdown release checklist. */
export { chartJsBundle, escapeHtml, type ReportHtmlOptions, renderReportHtml } from './html.js';
export { renderReportMarkdown } from './markdown.js';
export { type GateRow, type ReportModel, reportModel, type WeightPoint, type WindowRow } from './model.js';
