// A stable colour per cell (and per series): a fixed, colour-blind-friendly palette (Okabe-Ito
// extended), assigned by sorted name so the grid, the legend and the charts agree.

const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#7f7f7f', '#8c564b', '#17becf', '#bcbd22', '#9467bd'];

export function colorMap(names: string[]): Map<string, string> {
  const sorted = [...new Set(names)].sort();
  return new Map(sorted.map((n, i) => [n, PALETTE[i % PALETTE.length]]));
}

export function seriesColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}
