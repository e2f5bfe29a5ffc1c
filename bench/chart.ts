/**
 * The benchmark's chart of latency against offered load, as SVG text (no charting dependency: a few lines and
 * points on two axes). Latency on a log scale: from a few milliseconds when idle to seconds when saturated.
 */

export interface LatencyPoint {
  offered: number;
  acceptance_p50_ms: number;
  acceptance_p99_ms: number;
  success_p50_ms: number;
  success_p99_ms: number;
}

const SERIES = [
  { key: 'acceptance_p50_ms', label: 'acceptance p50 (POST -> 202)', colour: '#1f77b4', dash: '6 4' },
  { key: 'acceptance_p99_ms', label: 'acceptance p99', colour: '#1f77b4', dash: '' },
  { key: 'success_p50_ms', label: 'created -> SUCCESS p50', colour: '#d62728', dash: '6 4' },
  { key: 'success_p99_ms', label: 'created -> SUCCESS p99', colour: '#d62728', dash: '' },
] as const;

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** An SVG line chart of each latency percentile against the offered rate; `title` names the run. */
export function latencyChart(points: readonly LatencyPoint[], title: string): string {
  const width = 840;
  const height = 440;
  const margin = { left: 70, right: 290, top: 40, bottom: 50 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sorted = [...points].sort((a, b) => a.offered - b.offered);
  const maxX = Math.max(1, ...sorted.map((p) => p.offered));
  const values = sorted.flatMap((p) => SERIES.map((s) => p[s.key])).filter((v) => Number.isFinite(v) && v > 0);
  const lowExp = Math.floor(Math.log10(Math.max(1, Math.min(...values, 10))));
  const highExp = Math.max(lowExp + 1, Math.ceil(Math.log10(Math.max(...values, 10))));
  const x = (offered: number) => margin.left + (offered / maxX) * plotW;
  const y = (ms: number) =>
    margin.top + plotH - ((Math.log10(Math.max(ms, 10 ** lowExp)) - lowExp) / (highExp - lowExp)) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${margin.left}" y="24" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (let exp = lowExp; exp <= highExp; exp++) {
    const ms = 10 ** exp;
    const label = ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(ms)}" y2="${y(ms)}" stroke="#ddd"/>`,
      `<text x="${margin.left - 8}" y="${y(ms) + 4}" text-anchor="end">${label}</text>`,
    );
  }
  for (const p of sorted) {
    parts.push(
      `<line x1="${x(p.offered)}" x2="${x(p.offered)}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 5}" stroke="#333"/>`,
      `<text x="${x(p.offered)}" y="${margin.top + plotH + 20}" text-anchor="middle">${p.offered}</text>`,
    );
  }
  parts.push(
    `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#333"/>`,
    `<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">offered checkouts/s</text>`,
    `<text x="16" y="${margin.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${margin.top + plotH / 2})">latency (log scale)</text>`,
  );
  SERIES.forEach((series, i) => {
    const coords = sorted
      .filter((p) => Number.isFinite(p[series.key]) && p[series.key] > 0)
      .map((p) => `${x(p.offered).toFixed(1)},${y(p[series.key]).toFixed(1)}`);
    const dash = series.dash ? ` stroke-dasharray="${series.dash}"` : '';
    parts.push(
      `<polyline data-series="${series.key}" points="${coords.join(' ')}" fill="none" stroke="${series.colour}" stroke-width="2"${dash}/>`,
      ...coords.map((c) => {
        const [cx, cy] = c.split(',');
        return `<circle cx="${cx}" cy="${cy}" r="3" fill="${series.colour}"/>`;
      }),
    );
    const ly = margin.top + 10 + i * 20;
    const lx = margin.left + plotW + 20;
    parts.push(
      `<line x1="${lx}" x2="${lx + 30}" y1="${ly}" y2="${ly}" stroke="${series.colour}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 38}" y="${ly + 4}">${escapeXml(series.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
