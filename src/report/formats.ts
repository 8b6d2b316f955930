/** Report formats and their file extensions (no template engine: cheap to import). */
export type ReportFormat = 'md' | 'html' | 'json' | 'junit';
export const FORMATS: readonly ReportFormat[] = ['md', 'html', 'json', 'junit'];
export const EXTENSIONS: Record<ReportFormat, string> = { md: 'md', html: 'html', json: 'json', junit: 'junit.xml' };
