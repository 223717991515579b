// `adrater bench --report` and `bench report A.json [B.json]`: one self-contained HTML page
// (inline SVG and CSS; no script, no font, nothing fetched) comparing the modes of one run,
// or two runs side by side. Drawn here rather than by a charting library: three plain chart
// kinds, and a library would need a browser to draw, or weigh more than this file.
// Every figure taken from the results carries data-run and data-key (its path in the JSON),
// so a test can check each against the JSON it came from.
import { escapeXml } from '../core/render.js';
import type { BenchResult, ModeResult } from './stats.js';

const WIDTH = 960;
const MODE_COLOURS: Record<string, string> = { 'cgi 1': '#6baed6', cgi: '#2171b5', fastcgi: '#e6550d' };
const PHASES: Array<[string, string, string]> = [
  ['startup', "Node's own start", '#9e9e9e'],
  ['load', 'load (bundles, driver)', '#fdae6b'],
  ['connect', 'connect', '#74c476'],
  ['query', 'query', '#6baed6'],
  ['render', 'render', '#9e9ac8'],
  ['exit', 'spawn, exit, unmeasured', '#d9d9d9'],
];
const RUN_NAMES = ['A', 'B'];

const esc = (text: string | number) => escapeXml(String(text));
const group = (n: number, digits: number) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
/** A figure from the results, marked with where it came from. */
const figure = (run: number, key: string, value: number, digits: number, unit = '') => `<tspan data-run="${run}" data-key="${key}">${group(value, digits)}</tspan>${unit}`;
const cell = (run: number, key: string, value: number, digits: number) => `<td class="num" data-run="${run}" data-key="${key}">${group(value, digits)}</td>`;
const modeName = (m: ModeResult) => `${m.mode === 'cgi' ? 'CGI' : 'FastCGI'}, ${m.concurrency} at once`;
const colourOf = (m: ModeResult) => (m.mode === 'cgi' && m.concurrency === 1 ? MODE_COLOURS['cgi 1'] : MODE_COLOURS[m.mode]);
const log10 = (x: number) => Math.log10(Math.max(x, 1e-9));

export function renderReport(runs: BenchResult[]): string {
  const title = runs.length === 1 ? 'adrater bench: CGI against a persistent FastCGI responder' : 'adrater bench: two runs side by side';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><title>${esc(title)}</title>
<style>
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; color: #222; margin: 24px auto; max-width: ${WIDTH}px; font-size: 14px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 6px; } p.note { color: #555; margin: 4px 0 10px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } svg text { font-family: inherit; }
</style></head>
<body>
<h1>${esc(title)}</h1>
<p class="note">${runs.map((r, i) => `${runs.length > 1 ? `Run ${RUN_NAMES[i]}: ` : ''}${esc(r.date)}`).join(' · ')}</p>
<h2>Conditions</h2>
${conditions(runs)}
<h2>Throughput</h2>
<p class="note">Requests answered per second in each mode, on a log scale: one CGI run at a time, CGI runs at once, and one FastCGI responder over kept connections.</p>
${throughputChart(runs)}
<h2>Latency</h2>
<p class="note">How long requests took, at each percentile (log scale): the curve's right end is the slowest request.</p>
${latencyChart(runs)}
<h2>Where a CGI run spends its time</h2>
<p class="note">Medians of CGI runs taken by turns with bare <code>node -e ''</code> started the same way, from their Server-Timing header.</p>
${phasesChart(runs)}
<h2>The numbers</h2>
${numbersTable(runs)}
</body></html>
`;
}

function conditions(runs: BenchResult[]): string {
  const row = (label: string, value: (r: BenchResult, i: number) => string) => `<tr><th>${esc(label)}</th>${runs.map((r, i) => `<td>${value(r, i)}</td>`).join('')}</tr>`;
  return `<table>
${runs.length > 1 ? `<tr><th></th>${runs.map((_, i) => `<th>Run ${RUN_NAMES[i]}</th>`).join('')}</tr>` : ''}
${row('date', (r) => esc(r.date))}
${row('machine', (r, i) => `${figureText(i, 'machine.cpus', r.machine.cpus, 0)} × ${esc(r.machine.model)}, ${figureText(i, 'machine.memoryGb', r.machine.memoryGb, 0)} GiB, ${esc(r.machine.os)}`)}
${row('Node', (r) => esc(r.node))}
${row('database', (r) => esc(r.database.version))}
${row('request mix', (r, i) => `${figureText(i, 'urlsPerRequest', r.urlsPerRequest, 0)} URLs per request (all but one rated, one never seen), ${figureText(i, 'rows', r.rows, 0)} ratings`)}
${row('FastCGI responder RSS after its run', (r, i) => `${figureText(i, 'fastcgiRssMb', r.fastcgiRssMb, 1)} MB`)}
</table>`;
}

/** A figure in HTML text (not SVG). */
const figureText = (run: number, key: string, value: number, digits: number) => `<span data-run="${run}" data-key="${key}">${group(value, digits)}</span>`;

function throughputChart(runs: BenchResult[]): string {
  const rows = runs.flatMap((r, run) => r.modes.map((m, i) => ({ run, i, m, r })));
  const left = 190;
  const right = WIDTH - 40;
  const barHeight = 24;
  const height = 40 + rows.length * (barHeight + 10) + 40;
  const top = Math.ceil(log10(Math.max(...rows.map((x) => x.m.rps)) * 1.05));
  const x = (rps: number) => left + (Math.max(0, log10(rps)) / top) * (right - left - 200);
  const ticks = Array.from({ length: top + 1 }, (_, k) => 10 ** k);
  let y = 30;
  const bars = rows.map(({ run, i, m, r }) => {
    const cgiSame = r.modes.find((o) => o.mode === 'cgi' && o.concurrency === m.concurrency);
    const ratio = m.mode === 'fastcgi' && cgiSame ? ` — ${figure(run, 'ratio', r.ratio, 1, '×')} CGI at ${m.concurrency}` : '';
    const label = `${runs.length > 1 ? `${RUN_NAMES[run]}: ` : ''}${modeName(m)}`;
    const bar = `<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(label)}</text>
<rect x="${left}" y="${y}" width="${Math.max(1, x(m.rps) - left).toFixed(1)}" height="${barHeight}" fill="${colourOf(m)}" fill-opacity="${run === 0 ? 1 : 0.55}"/>
<text x="${(x(m.rps) + 6).toFixed(1)}" y="${y + 16}">${figure(run, `modes.${i}.rps`, m.rps, 1, ' req/s')}${ratio}</text>`;
    y += barHeight + 10;
    return bar;
  });
  const axisY = y + 4;
  const axis = ticks
    .map((t) => `<line x1="${x(t).toFixed(1)}" y1="22" x2="${x(t).toFixed(1)}" y2="${axisY}" stroke="#e4e4e4"/><text x="${x(t).toFixed(1)}" y="${axisY + 16}" text-anchor="middle" fill="#555">${t >= 1000 ? `${t / 1000}k` : t}</text>`)
    .join('\n');
  return svg(height, `${axis}
${bars.join('\n')}
<text x="${((left + right - 200) / 2).toFixed(0)}" y="${axisY + 34}" text-anchor="middle" fill="#555">requests per second (log scale)</text>`);
}

function latencyChart(runs: BenchResult[]): string {
  const lines = runs.flatMap((r, run) => r.modes.map((m, i) => ({ run, i, m })));
  const all = lines.flatMap((l) => l.m.percentiles.map(([, ms]) => ms)).filter((ms) => ms > 0);
  const bottom = Math.floor(log10(Math.min(...all)));
  const top = Math.ceil(log10(Math.max(...all)));
  const left = 70;
  const plotRight = WIDTH - 300;
  const plotTop = 20;
  const plotBottom = 320;
  const points = lines[0].m.percentiles.map(([p]) => p);
  const x = (k: number) => left + (k / (points.length - 1)) * (plotRight - left);
  const y = (ms: number) => plotBottom - ((log10(ms) - bottom) / Math.max(1, top - bottom)) * (plotBottom - plotTop);
  const grid = Array.from({ length: top - bottom + 1 }, (_, k) => 10 ** (bottom + k))
    .map((v) => `<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${plotRight}" y2="${y(v).toFixed(1)}" stroke="#e4e4e4"/><text x="${left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${v < 1 ? v.toFixed(Math.max(0, -Math.floor(log10(v)))) : group(v, 0)}</text>`)
    .join('\n');
  const xAxis = points
    .map((p, k) => `<line x1="${x(k).toFixed(1)}" y1="${plotTop}" x2="${x(k).toFixed(1)}" y2="${plotBottom}" stroke="#f0f0f0"/><text x="${x(k).toFixed(1)}" y="${plotBottom + 18}" text-anchor="middle" fill="#555">${p === 100 ? 'max' : `p${p}`}</text>`)
    .join('\n');
  const curves = lines.map(({ run, m }) => {
    const path = m.percentiles.map(([, ms], k) => `${k ? 'L' : 'M'}${x(k).toFixed(1)},${y(ms).toFixed(1)}`).join(' ');
    const dots = m.percentiles.map(([p, ms], k) => `<circle cx="${x(k).toFixed(1)}" cy="${y(ms).toFixed(1)}" r="3" fill="${colourOf(m)}"><title>${esc(`${modeName(m)}: p${p} ${group(ms, 2)} ms`)}</title></circle>`).join('');
    return `<path d="${path}" fill="none" stroke="${colourOf(m)}" stroke-width="2.5"${run ? ' stroke-dasharray="7 4"' : ''}/>${dots}`;
  });
  const legend = lines
    .map(({ run, i, m }, k) => {
      const ly = plotTop + 10 + k * 40;
      const lx = plotRight + 16;
      return `<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="${colourOf(m)}" stroke-width="2.5"${run ? ' stroke-dasharray="7 4"' : ''}/>
<text x="${lx + 32}" y="${ly + 4}">${esc(`${runs.length > 1 ? `${RUN_NAMES[run]}: ` : ''}${modeName(m)}`)}</text>
<text x="${lx + 32}" y="${ly + 20}" fill="#555">p50 ${figure(run, `modes.${i}.p50`, m.p50, 2)}, p99 ${figure(run, `modes.${i}.p99`, m.p99, 2)} ms</text>`;
    })
    .join('\n');
  return svg(plotBottom + 50, `${grid}
${xAxis}
${curves.join('\n')}
${legend}
<text transform="translate(16 ${(plotTop + plotBottom) / 2}) rotate(-90)" text-anchor="middle" fill="#555">ms (log scale)</text>
<text x="${(left + plotRight) / 2}" y="${plotBottom + 40}" text-anchor="middle" fill="#555">percentile of requests</text>`);
}

function phasesChart(runs: BenchResult[]): string {
  const left = 200;
  const right = WIDTH - 30;
  const longest = Math.max(...runs.map((r) => Math.max(r.cgiWallMs, r.bareNodeMs)));
  const scale = (ms: number) => (ms / longest) * (right - left - 80);
  const barHeight = 30;
  let y = 20;
  const bars: string[] = [];
  runs.forEach((r, run) => {
    const known = PHASES.filter(([name]) => name !== 'exit').reduce((sum, [name]) => sum + (r.breakdown[name] ?? 0), 0);
    const values: Record<string, number> = { ...r.breakdown, exit: r.cgiWallMs - known };
    const prefix = runs.length > 1 ? `${RUN_NAMES[run]}: ` : '';
    let at = left;
    const segments = PHASES.map(([name, label, colour]) => {
      const width = scale(Math.max(0, values[name] ?? 0));
      const key = name === 'exit' ? null : `breakdown.${name}`;
      const text = width > 42 ? `<text x="${(at + width / 2).toFixed(1)}" y="${y + 20}" text-anchor="middle">${key ? figure(run, key, values[name], 1) : group(values[name], 1)}</text>` : '';
      const segment = `<rect x="${at.toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${barHeight}" fill="${colour}"><title>${esc(`${label}: ${group(values[name] ?? 0, 2)} ms`)}</title></rect>${text}`;
      at += width;
      return segment;
    });
    bars.push(`<text x="${left - 8}" y="${y + 20}" text-anchor="end">${esc(prefix)}a CGI run</text>${segments.join('')}<text x="${(at + 6).toFixed(1)}" y="${y + 20}">${figure(run, 'cgiWallMs', r.cgiWallMs, 1, ' ms')}</text>`);
    y += barHeight + 8;
    bars.push(`<text x="${left - 8}" y="${y + 20}" text-anchor="end">${esc(prefix)}bare node -e ''</text><rect x="${left}" y="${y}" width="${scale(r.bareNodeMs).toFixed(1)}" height="${barHeight}" fill="#636363"/><text x="${(left + scale(r.bareNodeMs) + 6).toFixed(1)}" y="${y + 20}">${figure(run, 'bareNodeMs', r.bareNodeMs, 1, ' ms')} (run ÷ bare: ${group(r.cgiWallMs / r.bareNodeMs, 2)}×)</text>`);
    y += barHeight + 22;
    if (r.cgiCpuMs !== undefined && r.bareNodeCpuMs) {
      bars.push(`<text x="${left}" y="${y + 4}" fill="#333">${esc(prefix)}CPU (user + system), mean of the same runs: a CGI run ${figure(run, 'cgiCpuMs', r.cgiCpuMs, 1, ' ms')}, bare node ${figure(run, 'bareNodeCpuMs', r.bareNodeCpuMs, 1, ' ms')} (${group(r.cgiCpuMs / r.bareNodeCpuMs, 2)}×)</text>`);
      y += 26;
    }
  });
  const legend = PHASES.map(([, label, colour], k) => {
    const lx = left + (k % 3) * 250;
    const ly = y + Math.floor(k / 3) * 22;
    return `<rect x="${lx}" y="${ly}" width="14" height="14" fill="${colour}"/><text x="${lx + 20}" y="${ly + 12}">${esc(label)}</text>`;
  }).join('\n');
  return svg(y + 56, `${bars.join('\n')}\n${legend}\n<text x="${left}" y="${y + 52}" fill="#555">ms, to scale</text>`);
}

function numbersTable(runs: BenchResult[]): string {
  const head = `<tr>${runs.length > 1 ? '<th>run</th>' : ''}<th>mode</th><th>at once</th><th>requests</th><th>req/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th></tr>`;
  const rows = runs.flatMap((r, run) =>
    r.modes.map((m, i) => `<tr>${runs.length > 1 ? `<td>${RUN_NAMES[run]}</td>` : ''}<td>${m.mode === 'cgi' ? 'CGI' : 'FastCGI'}</td>${cell(run, `modes.${i}.concurrency`, m.concurrency, 0)}${cell(run, `modes.${i}.requests`, m.requests, 0)}${cell(run, `modes.${i}.rps`, m.rps, 1)}${cell(run, `modes.${i}.p50`, m.p50, 2)}${cell(run, `modes.${i}.p90`, m.p90, 2)}${cell(run, `modes.${i}.p99`, m.p99, 2)}${cell(run, `modes.${i}.max`, m.max, 2)}${cell(run, `modes.${i}.errors`, m.errors, 0)}</tr>`),
  );
  return `<table>${head}\n${rows.join('\n')}</table>`;
}

function svg(height: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${Math.ceil(height)}" viewBox="0 0 ${WIDTH} ${Math.ceil(height)}" font-size="13" role="img">
${body}
</svg>`;
}
