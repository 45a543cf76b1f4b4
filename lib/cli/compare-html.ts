// `kquant compare --html`: one self-contained page (inline SVG and CSS, no script, no network) with the
// picture the k-bit inference scaling-law paper draws, error against bits per weight, one series per format
// (a small dot per tensor, a large one for the format's total, a dashed line through the totals that no
// smaller format beats: the best error for its size), and the
// report's tables. The chart is the page's first element at (0, 0), so CHART's coordinates are page pixels.
import type { CompareReport, Figures, FormatTotal } from './compare.js';

/** The SVG's size and the plot area inside it (the legend sits right of the plot). */
export const CHART = { width: 960, height: 540, plot: { left: 80, top: 56, right: 740, bottom: 480 } } as const;

// Tableau 10 and two more: distinct on white and for the common forms of colour blindness.
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#17becf', '#8c564b'];

/** The colour of the i-th format (in the report's order of totals). */
export function seriesColor(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const fmt = {
  bits: (v: number) => v.toFixed(3),
  rel: (v: number) => (v === 0 ? '0' : v.toExponential(2)),
  db: (v: number) => (Number.isFinite(v) ? v.toFixed(2) : 'exact'),
  err: (v: number) => (v === 0 ? '0' : v.toPrecision(3)),
};

function describe(label: string, f: Figures): string {
  return `${label}: ${fmt.bits(f.bitsPerWeight)} bits/weight, relative error ${fmt.rel(f.relativeError)}, SQNR ${fmt.db(f.sqnrDb)} dB`;
}

interface Scale {
  x(bits: number): number;
  y(rel: number): number;
  xTicks: number[];
  yDecades: number[];
}

// x: bits per weight, linear over whole bits; y: relative error on a log axis over whole decades (an exact
// copy, error 0, sits on the bottom edge). SQNR is −20·log10 of the relative error for one tensor, so the
// right-hand labels give each decade in dB.
function scale(r: CompareReport): Scale {
  const points = r.totals.flatMap((t) => [t, ...r.tensors.map((x) => x.formats[t.format]!).filter((c): c is Figures => !('na' in c))]);
  const bits = points.map((p) => p.bitsPerWeight);
  const logs = points.map((p) => p.relativeError).filter((e) => e > 0 && Number.isFinite(e)).map(Math.log10);
  const x0 = Math.floor(Math.min(...bits)) - (Number.isInteger(Math.min(...bits)) ? 1 : 0);
  const x1 = Math.ceil(Math.max(...bits)) + (Number.isInteger(Math.max(...bits)) ? 1 : 0);
  const y0 = logs.length > 0 ? Math.floor(Math.min(...logs)) : -3;
  const y1 = logs.length > 0 ? Math.max(Math.ceil(Math.max(...logs)), y0 + 1) : 0;
  const { left, top, right, bottom } = CHART.plot;
  const step = x1 - x0 > 12 ? 2 : 1;
  return {
    x: (b) => left + ((b - x0) / (x1 - x0)) * (right - left),
    y: (e) => (e > 0 ? bottom - ((Math.min(Math.max(Math.log10(e), y0), y1) - y0) / (y1 - y0)) * (bottom - top) : bottom),
    xTicks: Array.from({ length: Math.floor((x1 - x0) / step) + 1 }, (_, i) => x0 + i * step),
    yDecades: Array.from({ length: y1 - y0 + 1 }, (_, i) => y0 + i),
  };
}

function axes(s: Scale): string {
  const { left, top, right, bottom } = CHART.plot;
  const parts = [`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#999"/>`];
  for (const b of s.xTicks) {
    const x = s.x(b).toFixed(1);
    parts.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" class="grid"/><text x="${x}" y="${bottom + 18}" text-anchor="middle">${b}</text>`);
  }
  for (const d of s.yDecades) {
    const y = s.y(10 ** d).toFixed(1);
    parts.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${left - 8}" y="${y}" text-anchor="end" dy="4">1e${d}</text><text x="${right + 8}" y="${y}" dy="4">${-20 * d} dB</text>`);
  }
  parts.push(`<text x="${(left + right) / 2}" y="${bottom + 42}" text-anchor="middle" class="label">bits per weight (storage incl. scales)</text>`);
  parts.push(`<text x="${right - 6}" y="${top + 16}" text-anchor="end">dashed: the formats no smaller one beats</text>`);
  parts.push(`<text transform="translate(22 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle" class="label">relative error ‖W−Ŵ‖/‖W‖ (SQNR on the right)</text>`);
  return parts.join('\n');
}

function series(r: CompareReport, s: Scale): string {
  const parts: string[] = [];
  // r.totals is ordered by bits per weight: keep each total that beats every smaller one.
  const front: FormatTotal[] = [];
  for (const t of r.totals) if (t.relativeError < (front.at(-1)?.relativeError ?? Infinity)) front.push(t);
  const frontier = front.map((t) => `${s.x(t.bitsPerWeight).toFixed(1)},${s.y(t.relativeError).toFixed(1)}`).join(' ');
  parts.push(`<polyline points="${frontier}" fill="none" stroke="#888" stroke-dasharray="5 4"/>`);
  r.totals.forEach((t, i) => {
    const color = seriesColor(i);
    const dots = r.tensors.flatMap((x) => {
      const c = x.formats[t.format]!;
      if ('na' in c) return [];
      return [`<circle cx="${s.x(c.bitsPerWeight).toFixed(1)}" cy="${s.y(c.relativeError).toFixed(1)}" r="3" fill-opacity="0.35"><title>${esc(describe(`${x.name} ${t.format}`, c))}</title></circle>`];
    });
    const total = `<circle cx="${s.x(t.bitsPerWeight).toFixed(1)}" cy="${s.y(t.relativeError).toFixed(1)}" r="7" stroke="#222" stroke-width="1.5"><title>${esc(describe(`${t.format} total`, t))}</title></circle>`;
    parts.push(`<g class="series" data-format="${esc(t.format)}" fill="${color}">\n${dots.join('\n')}\n${total}\n</g>`);
  });
  return parts.join('\n');
}

function legend(r: CompareReport): string {
  const x = CHART.plot.right + 70;
  return r.totals
    .map((t, i) => {
      const y = CHART.plot.top + 8 + i * 22;
      return `<circle cx="${x}" cy="${y}" r="6" fill="${seriesColor(i)}" stroke="#222"/><text x="${x + 12}" y="${y}" dy="4">${esc(t.format)} · ${fmt.bits(t.bitsPerWeight)}</text>`;
    })
    .join('\n');
}

function chart(r: CompareReport): string {
  const s = scale(r);
  const title = `${esc(r.input)}: error against bits per weight, ${r.tensors.length} matrices`;
  return `<svg id="chart" width="${CHART.width}" height="${CHART.height}" viewBox="0 0 ${CHART.width} ${CHART.height}" role="img" aria-label="${title}">
<rect width="${CHART.width}" height="${CHART.height}" fill="#fff"/>
<text x="${CHART.plot.left}" y="30" class="title">${title}</text>
${axes(s)}
${series(r, s)}
${legend(r)}
</svg>`;
}

// The first `textColumns` columns are names and read left-aligned; the figures after them right-aligned.
function table(headers: readonly string[], textColumns: number, rows: readonly (readonly string[])[]): string {
  const cls = (i: number): string => (i < textColumns ? ' class="text"' : '');
  const head = headers.map((h, i) => `<th${cls(i)}>${esc(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((c, i) => `<td${cls(i)}>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

const FIGURES = ['bits/weight', 'bytes', 'rel. error', 'SQNR dB', 'max error'];
const cells = (f: Figures): string[] => [fmt.bits(f.bitsPerWeight), String(f.bytes), fmt.rel(f.relativeError), fmt.db(f.sqnrDb), fmt.err(f.maxAbsError)];

export function renderCompareHtml(r: CompareReport): string {
  const totals = table(['format', 'what is stored', 'tensors', ...FIGURES], 2, r.totals.map((t) => [t.format, t.description, `${t.tensors}/${t.tensors + t.naTensors}`, ...cells(t)]));
  const perTensor = table(
    ['tensor', 'shape', 'source', 'format', ...FIGURES],
    4,
    r.tensors.flatMap((t) =>
      Object.entries(t.formats).map(([format, c]) => [t.name, `[${t.shape.join(', ')}]`, t.dequantized ? `${t.dtype} (dequantized)` : t.dtype, format, ...('na' in c ? [`n/a: ${c.na}`, '', '', '', ''] : cells(c))]),
    ),
  );
  const skipped = r.skipped.length > 0 ? `<h2>Not compared</h2>\n${table(['tensor', 'shape', 'type', 'why'], 4, r.skipped.map((s) => [s.name, `[${s.shape.join(', ')}]`, s.dtype, s.reason]))}` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kquant compare: ${esc(r.input)}</title>
<style>
body { margin: 0; font: 13px system-ui, sans-serif; color: #222; background: #fff; }
svg { display: block; }
svg text { font: 12px system-ui, sans-serif; fill: #333; }
svg .title { font-size: 15px; font-weight: 600; }
svg .label { font-size: 13px; }
svg .grid { stroke: #e4e4e4; }
main { padding: 0 16px 24px; max-width: 1200px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th.text, td.text { text-align: left; }
</style>
</head>
<body>
${chart(r)}
<main>
<p>${esc(r.input)} (${r.kind}, ${r.files.length} file(s)): ${r.tensors.length} matrices, ${r.skipped.length} tensor(s) not compared. Totals cover the tensors each format fits; SQNR = 10·log10(ΣW² / Σ(W−Ŵ)²).</p>
<h2>Totals</h2>
${totals}
<h2>Per tensor</h2>
${perTensor}
${skipped}
</main>
</body>
</html>
`;
}
