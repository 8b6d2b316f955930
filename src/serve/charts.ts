/**
 * Charts as inline SVG, computed here and drawn by templates/serve/chart.hbs: no chart library,
 * no script, nothing to fetch (the CSP allows neither), and a page that prints. Only numbers
 * reach the SVG's geometry; names go through the template's escaping.
 */

export interface ChartSeries {
  name: string;
  /** CSS class: its colour comes from serve.css (inline styles are blocked by the CSP). */
  cls: string;
  points: string;
  last: number | null;
}

export interface Chart {
  title: string;
  width: number;
  height: number;
  ymax: number;
  series: ChartSeries[];
  from: string;
  to: string;
  /** Vertical bar positions (x) with a tooltip each: one per point, for hover values. */
  ticks: { x: number; label: string }[];
}

const W = 640;
const H = 160;
const PAD = 4;

/** Lines over a shared x axis (one value per label); null values leave a gap. */
export function lineChart(title: string, labels: string[], series: { name: string; cls: string; values: (number | null)[] }[]): Chart {
  const ymax = Math.max(1, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const n = labels.length;
  const x = (i: number) => (n <= 1 ? W / 2 : PAD + (i * (W - 2 * PAD)) / (n - 1));
  const y = (v: number) => H - PAD - (v / ymax) * (H - 2 * PAD);
  return {
    title,
    width: W,
    height: H,
    ymax,
    series: series.map((s) => ({
      name: s.name,
      cls: s.cls,
      points: s.values.map((v, i) => (v === null ? '' : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean).join(' '),
      last: [...s.values].reverse().find((v) => v !== null) ?? null,
    })),
    from: labels[0] ?? '',
    to: labels[n - 1] ?? '',
    ticks: labels.map((l, i) => ({
      x: Number(x(i).toFixed(1)),
      label: `${l}: ${series.map((s) => `${s.name} ${s.values[i] ?? '–'}`).join(', ')}`,
    })),
  };
}
