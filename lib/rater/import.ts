// `adrater import`: CSV or JSON lines, streamed, validated row by row, written in
// transactions of a bounded size. A bad row is refused with its line and the rest go on;
// --strict refuses the whole file at its first bad row and writes nothing.
import { createReadStream } from 'node:fs';
import { CommandError, UnavailableError } from '../core/errors.js';
import type { Store, RatingRow } from '../store/store.js';
import { csvParser } from './csv.js';
import { ratingRow } from './rating.js';
import type { RatingInput } from './rating.js';

export interface ImportOptions {
  file: string;
  format: 'csv' | 'jsonl';
  force: boolean;
  strict: boolean;
  batchSize: number;
  onRefused(line: number, reason: string): void;
  onProgress?(read: number): void;
}

export interface ImportSummary {
  read: number;
  taken: number;
  older: number;
  refused: number;
}

const REQUIRED_COLUMNS = ['domain', 'rating', 'rated_at'];

export function formatOf(file: string, given?: string): 'csv' | 'jsonl' {
  if (given === 'csv' || given === 'jsonl') return given;
  return /\.(jsonl|ndjson|json)$/i.test(file) ? 'jsonl' : 'csv';
}

/** Turns text chunks into numbered inputs (or refusals) for either format; a file that cannot be used at all throws CommandError. */
function recordReader(format: 'csv' | 'jsonl', emit: (line: number, input: RatingInput | string) => void) {
  if (format === 'jsonl') {
    let rest = '';
    let line = 0;
    const take = (text: string) => {
      line++;
      const trimmed = text.replace(/^\uFEFF/, '').trim();
      if (trimmed === '') return;
      try {
        const value = JSON.parse(trimmed);
        emit(line, value && typeof value === 'object' && !Array.isArray(value) ? value : 'not a JSON object');
      } catch {
        emit(line, 'not valid JSON');
      }
    };
    return {
      write(chunk: string) {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop()!;
        for (const part of parts) take(part);
      },
      end() {
        if (rest !== '') take(rest);
      },
    };
  }
  let columns: string[] | null = null;
  return csvParser((record) => {
    if (!columns) {
      columns = record.fields.map((f) => f.trim().toLowerCase());
      const missing = REQUIRED_COLUMNS.filter((c) => !columns!.includes(c));
      if (missing.length > 0 || record.error) {
        throw new CommandError(`line ${record.line}: the CSV header must name domain, rating, info, rated_at, expires_at (missing ${missing.join(', ') || 'none; bad quoting'})`);
      }
      return;
    }
    if (record.error) return emit(record.line, `malformed CSV: ${record.error}`);
    if (record.fields.length !== columns.length) {
      return emit(record.line, `expected ${columns.length} fields, found ${record.fields.length}`);
    }
    const input: Record<string, string> = {};
    columns.forEach((name, i) => (input[name] = record.fields[i]));
    emit(record.line, input);
  });
}

/**
 * The database failed mid-file (a full disk, a server lost): each batch is one transaction,
 * so the batches before are written whole and this one not at all. The message says how far
 * it got, and that the same file can be imported again (a rating already stored is written
 * again as it was).
 */
function partly(err: unknown, summary: ImportSummary, batchSize: number): unknown {
  if (!(err instanceof UnavailableError)) return err;
  return new UnavailableError(
    `${err.message} (${summary.taken} rows taken before it, in whole transactions of up to ${batchSize}, none of the one that failed; importing the file again is safe)`,
    { cause: err },
  );
}

export async function importRatings(store: Store, options: ImportOptions): Promise<ImportSummary> {
  const summary: ImportSummary = { read: 0, taken: 0, older: 0, refused: 0 };
  let batch: RatingRow[] = [];
  const held: RatingRow[] = []; // --strict: nothing is written until the whole file is good

  const reader = recordReader(options.format, (line, input) => {
    summary.read++;
    const row = typeof input === 'string' ? input : ratingRow(input);
    if (typeof row === 'string') {
      if (options.strict) throw new CommandError(`line ${line}: ${row}; --strict: nothing written`);
      summary.refused++;
      options.onRefused(line, row);
    } else if (options.strict) {
      held.push(row);
    } else {
      batch.push(row);
    }
  });

  const flush = async (rows: RatingRow[]) => {
    for (let i = 0; i < rows.length; i += options.batchSize) {
      const result = await store.writeRatings(rows.slice(i, i + options.batchSize), options.force).catch((err) => Promise.reject(partly(err, summary, options.batchSize)));
      summary.taken += result.taken;
      summary.older += result.older;
    }
  };

  let stream;
  try {
    stream =
      options.file === '-'
        ? process.stdin.setEncoding('utf8')
        : createReadStream(options.file, { encoding: 'utf8', highWaterMark: 256 * 1024 });
    for await (const chunk of stream) {
      reader.write(chunk as string);
      if (batch.length >= options.batchSize) {
        const full = batch;
        batch = [];
        await flush(full);
      }
      options.onProgress?.(summary.read);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && /^E[A-Z]+$/.test(code) && !(err instanceof CommandError)) {
      throw new CommandError(`cannot read ${options.file}: ${code}`);
    }
    throw err;
  }
  reader.end();
  await flush(options.strict ? held : batch);
  return summary;
}
