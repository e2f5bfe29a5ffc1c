/** The benchmark's latency chart (bench/chart.ts): an SVG with one line per percentile, on a log scale. */
import { latencyChart } from '../../bench/chart';

const phases = [
  { offered: 10, acceptance_p50_ms: 12, acceptance_p99_ms: 62, success_p50_ms: 48, success_p99_ms: 244 },
  { offered: 40, acceptance_p50_ms: 18, acceptance_p99_ms: 374, success_p50_ms: 62, success_p99_ms: 964 },
  { offered: 20, acceptance_p50_ms: 8, acceptance_p99_ms: 27, success_p50_ms: 31, success_p99_ms: 74 },
];

/** The points of a series' line, in order. */
const line = (svg: string, series: string) =>
  (new RegExp(`data-series="${series}" points="([^"]*)"`).exec(svg)?.[1] ?? '')
    .split(' ')
    .map((pair) => pair.split(',').map(Number) as [number, number]);

describe('latencyChart', () => {
  const svg = latencyChart(phases, 'pay-in <test> & co');

  it('is one SVG document with the title escaped, both axes named and every offered rate labelled', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('pay-in &lt;test&gt; &amp; co');
    expect(svg).toContain('offered checkouts/s');
    expect(svg).toContain('latency (log scale)');
    for (const rate of ['>10<', '>20<', '>40<']) expect(svg).toContain(rate);
    for (const tick of ['>1 ms<', '>10 ms<', '>100 ms<', '>1 s<']) expect(svg).toContain(tick);
  });

  it('draws each percentile against the offered rate, left to right, higher latency higher up', () => {
    for (const series of ['acceptance_p50_ms', 'acceptance_p99_ms', 'success_p50_ms', 'success_p99_ms']) {
      const points = line(svg, series);
      expect(points).toHaveLength(3);
      expect(points.map(([x]) => x)).toEqual([...points.map(([x]) => x)].sort((a, b) => a - b));
    }
    // At 40/s, p99 acceptance (374 ms) is drawn above p50 (18 ms): a smaller y.
    const [, , p99At40] = line(svg, 'acceptance_p99_ms');
    const [, , p50At40] = line(svg, 'acceptance_p50_ms');
    expect(p99At40?.[1]).toBeLessThan(p50At40?.[1] ?? 0);
    // A tenfold latency is one decade up: 10 ms -> 100 ms spans the same height as 100 ms -> 1 s.
    const one = latencyChart(
      [
        { offered: 1, acceptance_p50_ms: 10, acceptance_p99_ms: 100, success_p50_ms: 1000, success_p99_ms: 1000 },
        { offered: 2, acceptance_p50_ms: 10, acceptance_p99_ms: 100, success_p50_ms: 1000, success_p99_ms: 1000 },
      ],
      't',
    );
    const [[, y10]] = line(one, 'acceptance_p50_ms') as [[number, number]];
    const [[, y100]] = line(one, 'acceptance_p99_ms') as [[number, number]];
    const [[, y1000]] = line(one, 'success_p50_ms') as [[number, number]];
    expect(Math.abs(y10 - y100 - (y100 - y1000))).toBeLessThan(0.2);
  });
});
