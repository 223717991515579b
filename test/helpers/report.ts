// Checks a bench report against the results it was drawn from: well-formed (as XML, which
// the page is written to be; libxml2 too when xmllint is there), self-contained (no script,
// nothing fetched), and every figure marked with its JSON path equal to that value as shown.
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { XMLValidator } from 'fast-xml-parser';
import type { BenchResult } from '../../lib/bench/stats.js';

const FIGURE = /<(?:td|span|tspan)[^>]*\bdata-run="(\d+)" data-key="([^"]+)"[^>]*>([^<]*)</g;

function valueAt(result: BenchResult, path: string): number {
  let value: unknown = result;
  for (const part of path.split('.')) value = (value as Record<string, unknown>)?.[part];
  if (typeof value !== 'number') throw new Error(`${path} is not a number in the results`);
  return value;
}

export function checkReport(t: Test, html: string, runs: BenchResult[]): void {
  const valid = XMLValidator.validate(html);
  t.equal(valid, true, `well-formed: ${JSON.stringify(valid)}`);
  try {
    execFileSync('xmllint', ['--noout', '--nonet', '-'], { input: html, stdio: ['pipe', 'ignore', 'pipe'] });
    t.pass('libxml2 reads it');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') t.fail(`xmllint: ${(err as { stderr?: Buffer }).stderr}`);
  }
  t.notMatch(html, /<script|\s(src|href)=|url\(|@import/i, 'no script, nothing fetched');
  t.notMatch(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', ''), /https?:/, 'no address at all but the SVG namespace');
  const figures = [...html.matchAll(FIGURE)].map(([, run, key, text]) => ({ run: Number(run), key, text }));
  let wrong = 0;
  for (const { run, key, text } of figures) {
    const shown = Number(text.replace(/,/g, ''));
    const digits = (text.split('.')[1] ?? '').length;
    const value = valueAt(runs[run], key);
    if (!(Math.abs(shown - value) <= 0.5 * 10 ** -digits + 1e-9)) {
      wrong++;
      t.fail(`run ${run} ${key}: shown ${text}, the results say ${value}`);
    }
  }
  t.equal(wrong, 0, `${figures.length} figures, each equal to its value in the results`);
  runs.forEach((r, run) => {
    const keys = new Set(figures.filter((f) => f.run === run).map((f) => f.key));
    const cpu = r.cgiCpuMs !== undefined ? ['cgiCpuMs', 'bareNodeCpuMs'] : [];
    const expected = ['ratio', 'cgiWallMs', 'bareNodeMs', ...cpu, ...r.modes.flatMap((_, i) => [`modes.${i}.rps`, `modes.${i}.p50`, `modes.${i}.p99`, `modes.${i}.requests`])];
    t.same(expected.filter((k) => !keys.has(k)), [], `run ${run}: every key figure is shown`);
  });
}
