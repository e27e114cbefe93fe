// The DMARC pass rate over time, drawn as a line on a second (percent) axis beside the stacked
// bars of messages per day: per day, or per ISO week (Monday to Sunday, UTC) when the span is
// longer than WEEKLY_AFTER_DAYS. From the same rows as the bars ({day, messages, dmarc_pass}).
// A day (or week) without messages has no rate: the line joins its neighbours.

export const WEEKLY_AFTER_DAYS = 90;

const DAY_MS = 86400e3;
const dayMs = (day) => Date.parse(`${day}T00:00:00Z`);

// The Monday that starts the week of a day 'YYYY-MM-DD'.
export function weekOf(day) {
  const ms = dayMs(day);
  const weekday = (new Date(ms).getUTCDay() + 6) % 7;  // Monday 0 … Sunday 6
  return new Date(ms - weekday * DAY_MS).toISOString().slice(0, 10);
}

// rows: the bars' days, in order. Returns {granularity, values}: values[i] is the rate (0–100,
// one decimal) drawn at rows[i], or null. Weekly: each week's rate is drawn at its first row.
export function passRates(rows) {
  const span = rows.length ? Math.round((dayMs(rows[rows.length - 1].day) - dayMs(rows[0].day)) / DAY_MS) + 1 : 0;
  const weekly = span > WEEKLY_AFTER_DAYS;
  const rate = (pass, all) => (all > 0 ? Math.round((1000 * pass) / all) / 10 : null);
  if (!weekly) return { granularity: 'daily', values: rows.map((r) => rate(r.dmarc_pass, r.messages)) };
  const sums = new Map();
  for (const r of rows) {
    const w = weekOf(r.day);
    const s = sums.get(w) || { pass: 0, all: 0 };
    s.pass += Number(r.dmarc_pass) || 0;
    s.all += Number(r.messages) || 0;
    sums.set(w, s);
  }
  const seen = new Set();
  const values = rows.map((r) => {
    const w = weekOf(r.day);
    if (seen.has(w)) return null;
    seen.add(w);
    const s = sums.get(w);
    return rate(s.pass, s.all);
  });
  return { granularity: 'weekly', values };
}

// What the bar chart's option needs for the line: a second y axis and the series.
export function trendOption(rows) {
  const { granularity, values } = passRates(rows);
  return {
    granularity,
    values,
    yAxis: { type: 'value', min: 0, max: 100, position: 'right', axisLabel: { formatter: '{value}%' },
      splitLine: { show: false } },
    series: { name: granularity === 'weekly' ? 'pass rate (weekly)' : 'pass rate (daily)', type: 'line',
      yAxisIndex: 1, color: '#1f6feb', connectNulls: true, showSymbol: values.filter((v) => v !== null).length < 60,
      data: values },
  };
}
