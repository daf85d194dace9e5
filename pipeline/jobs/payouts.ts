/**
 * Pro-rata payouts of a month, pure. The revenue pool (integer minor units, e.g. cents) is
 * split over (track, territory, product) lines in proportion to their streams with the
 * largest-remainder method: every line gets floor(pool * streams / total), and the cents left
 * go one each to the lines with the largest remainders (ties by line key), so the lines sum
 * to the pool exactly. Artist lines are sums of their tracks' lines, so they too sum to the
 * pool. BigInt keeps pool * streams exact for any pool.
 */
import type { CountedPlay, Product } from '../../storage/royalties.ts';

export interface PayoutLine {
  id: string;
  territory: string;
  product: Product;
  streams: number;
  /** Minor units. */
  amount: number;
}

export interface Payouts {
  month: string;
  currency: string;
  pool: number;
  totalStreams: number;
  tracks: PayoutLine[];
  artists: PayoutLine[];
}

export function computePayouts(
  month: string,
  plays: Iterable<CountedPlay>,
  pool: number,
  currency: string,
): Payouts {
  if (!Number.isSafeInteger(pool) || pool < 0)
    throw new RangeError('pool must be a non-negative integer of minor units');
  const lines = new Map<string, { line: PayoutLine; artist: string }>();
  for (const p of plays) {
    const key = `${p.trackId}\u0000${p.territory}\u0000${p.product}`;
    const l = lines.get(key);
    if (l) l.line.streams++;
    else
      lines.set(key, {
        artist: p.artistId,
        line: { id: p.trackId, territory: p.territory, product: p.product, streams: 1, amount: 0 },
      });
  }
  const entries = [...lines.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const total = entries.reduce((s, [, l]) => s + l.line.streams, 0);
  if (total > 0) {
    const P = BigInt(pool);
    const T = BigInt(total);
    const rems: { i: number; r: bigint }[] = [];
    let given = 0n;
    entries.forEach(([, l], i) => {
      const exact = P * BigInt(l.line.streams);
      const q = exact / T;
      l.line.amount = Number(q);
      given += q;
      rems.push({ i, r: exact % T });
    });
    rems.sort((a, b) => (b.r > a.r ? 1 : b.r < a.r ? -1 : a.i - b.i));
    for (let k = 0; k < Number(P - given); k++) entries[rems[k]!.i]![1].line.amount++;
  }
  const artists = new Map<string, PayoutLine>();
  for (const [, { artist, line }] of entries) {
    const key = `${artist}\u0000${line.territory}\u0000${line.product}`;
    const a = artists.get(key);
    if (a) {
      a.streams += line.streams;
      a.amount += line.amount;
    } else artists.set(key, { ...line, id: artist });
  }
  return {
    month,
    currency,
    pool,
    totalStreams: total,
    tracks: entries.map(([, l]) => l.line),
    artists: [...artists.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, l]) => l),
  };
}

/** CSV of payout lines with a header: kind,id,territory,product,streams,amount_minor. */
export function payoutsCsv(p: Payouts): string {
  const rows = ['kind,id,territory,product,streams,amount_minor,currency'];
  const esc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  for (const [kind, lines] of [
    ['track', p.tracks],
    ['artist', p.artists],
  ] as const) {
    for (const l of lines)
      rows.push([kind, esc(l.id), l.territory, l.product, l.streams, l.amount, p.currency].join(','));
  }
  return rows.join('\n') + '\n';
}
