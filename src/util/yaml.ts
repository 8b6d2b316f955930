/**
 * YAML with positions: parse once at the edge, keep the Document so that schema errors can be
 * mapped back to file:line:column (STYLE: "yaml with positions, then a schema").
 */
import { isNode, LineCounter, parseDocument, visit, type Alias, type Document } from 'yaml';
import type { ZodError } from 'zod';
import { FleetmendError, type ErrorCode, type SourcePosition } from '../errors.js';
import { readInputText } from './input-file.js';
import { pyyamlTags } from './yaml11.js';

export interface YamlSource {
  file: string;
  doc: Document;
  lineCounter: LineCounter;
  /** Plain JS value of the document. */
  value: unknown;
}

export interface ParseYamlOptions {
  /** Read as Ansible's PyYAML loader reads inventories and vars files (YAML 1.1 scalars, yaml11.ts). */
  pyyaml?: boolean;
}

export function parseYaml(file: string, text: string, opts: ParseYamlOptions = {}): YamlSource {
  const lineCounter = new LineCounter();
  const yaml11 = opts.pyyaml ? ({ version: '1.1', customTags: pyyamlTags } as const) : {};
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, ...yaml11 });
  const first = doc.errors[0];
  if (first) {
    const pos = lineCounter.linePos(first.pos[0]);
    const msg = first.message.split('\n')[0] ?? first.message;
    throw new FleetmendError('E_YAML', `invalid YAML: ${msg}`, {
      position: { file, line: pos.line, column: pos.col },
    });
  }
  return { file, doc, lineCounter, value: toValue(file, doc, lineCounter) };
}

/** Alias uses a document may expand to (the yaml library's count); a "billion laughs" is far past it. */
const MAX_ALIAS_COUNT = 100;

/**
 * The document's value. Alias errors surface only here (the library throws a bare
 * ReferenceError: an alias bomb, an alias before its anchor); they become E_YAML at the alias
 * being resolved, which each alias node reports on its way out.
 */
function toValue(file: string, doc: Document, lineCounter: LineCounter): unknown {
  let culprit: Alias | undefined;
  let first: Alias | undefined;
  visit(doc, {
    Alias(_key, node) {
      first ??= node;
      const resolve = node.toJSON.bind(node);
      node.toJSON = (arg?: unknown, ctx?: unknown) => {
        try {
          return (resolve as (a?: unknown, c?: unknown) => unknown)(arg, ctx);
        } catch (err) {
          culprit ??= node;
          throw err;
        }
      };
    },
  });
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const at = (culprit ?? first)?.range?.[0];
    const pos = at !== undefined ? lineCounter.linePos(at) : undefined;
    const why = err instanceof Error ? err.message : String(err);
    const message = /Excessive alias count/.test(why)
      ? `invalid YAML: aliases expand to more than ${MAX_ALIAS_COUNT} nodes (an alias bomb?)`
      : `invalid YAML: ${why}`;
    throw new FleetmendError('E_YAML', message, { position: { file, ...(pos ? { line: pos.line, column: pos.col } : {}) } });
  }
}

export async function readYamlFile(file: string): Promise<YamlSource> {
  return parseYaml(file, await readInputText(file, { code: 'E_USAGE', what: '' }));
}

/** Position of the node at `path` (or of its nearest existing ancestor). */
export function positionOf(src: YamlSource, path: readonly PropertyKey[]): SourcePosition {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? src.doc.contents : src.doc.getIn(path.slice(0, n) as (string | number)[], true);
    if (isNode(node) && node.range) {
      const pos = src.lineCounter.linePos(node.range[0]);
      return { file: src.file, line: pos.line, column: pos.col };
    }
    // for a key that exists, point at the key itself
  }
  return { file: src.file };
}

/** Position of a mapping KEY at `path` (better for "unknown key" errors). */
export function keyPositionOf(src: YamlSource, path: readonly PropertyKey[]): SourcePosition {
  const parentPath = path.slice(0, -1) as (string | number)[];
  const parent = parentPath.length ? src.doc.getIn(parentPath, true) : src.doc.contents;
  const key = path[path.length - 1];
  if (parent && typeof parent === 'object' && 'items' in parent && Array.isArray(parent.items)) {
    for (const item of parent.items as unknown[]) {
      const k = (item as { key?: unknown }).key;
      if (isNode(k) && (k as { value?: unknown }).value === key && k.range) {
        const pos = src.lineCounter.linePos(k.range[0]);
        return { file: src.file, line: pos.line, column: pos.col };
      }
    }
  }
  return positionOf(src, path);
}

/** The first zod issue as a FleetmendError pointing at its YAML node. */
export function schemaError(src: YamlSource, err: ZodError, code: ErrorCode = 'E_SCHEMA'): FleetmendError {
  const issue = err.issues[0];
  if (!issue) return new FleetmendError(code, 'schema validation failed', { position: { file: src.file } });
  const path = issue.path as PropertyKey[];
  let position: SourcePosition;
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    position = keyPositionOf(src, [...path, keys[0] ?? '']);
    message = `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${k}'`).join(', ')}`;
  } else {
    position = positionOf(src, path);
  }
  const where = path.length ? ` at ${path.join('.')}` : '';
  return new FleetmendError(code, `${message}${where}`, { position });
}
