/**
 * The dashboard's charts as inline SVG drawn here, on the server: no chart library, no
 * fonts, no network. Every chart is an `<svg data-chart=…>` whose marks carry
 * `data-day`/`data-value`, which the browser test reads.
 */
import type { DashboardData } from "./dashboard-data.js"

export const escape = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const W = 560
const H = 200
const PAD = { left: 44, right: 10, top: 10, bottom: 34 }
const plotW = W - PAD.left - PAD.right
const plotH = H - PAD.top - PAD.bottom

const niceMax = (value: number) => {
  if (value <= 0) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude
  return 10 * magnitude
}

const axes = (max: number, unit: string, days: ReadonlyArray<string>, slot: number) => {
  const ticks = [0, max / 2, max]
    .map((tick) => {
      const y = PAD.top + plotH - (tick / max) * plotH
      return `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" class="grid"/>` +
        `<text x="${PAD.left - 4}" y="${y + 4}" class="tick" text-anchor="end">${Number(tick.toFixed(1))}${unit}</text>`
    })
    .join("")
  const labels = days
    .map((day, i) =>
      i % Math.ceil(days.length / 7) === 0
        ? `<text x="${PAD.left + slot * (i + 0.5)}" y="${H - 12}" class="tick" text-anchor="middle">${day.slice(5)}</text>`
        : ""
    )
    .join("")
  return ticks + labels
}

const empty = (name: string, title: string) =>
  `<section><h2>${title}</h2><svg data-chart="${name}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">` +
  `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="tick">no data yet</text></svg></section>`

// A swatch is SVG: the page's Content-Security-Policy allows no style attributes.
const legendOf = (series: ReadonlyArray<Series>) =>
  `<p class="legend">${
    series.map((s) => `<span><svg width="10" height="10" class="swatch"><rect width="10" height="10" rx="2" fill="${s.color}"/></svg>${s.name}</span>`).join("")
  }</p>`

interface Series {
  readonly name: string
  readonly color: string
  readonly values: ReadonlyArray<number>
}

const stackedBars = (name: string, title: string, days: ReadonlyArray<string>, series: ReadonlyArray<Series>, unit = "") => {
  if (days.length === 0) return empty(name, title)
  const totals = days.map((_, i) => series.reduce((sum, s) => sum + Math.max(0, s.values[i] ?? 0), 0))
  const max = niceMax(Math.max(...totals))
  const slot = plotW / days.length
  const bars = days.map((day, i) => {
    let y = PAD.top + plotH
    return series.map((s) => {
      const value = Math.max(0, s.values[i] ?? 0)
      const h = (value / max) * plotH
      y -= h
      return `<rect data-series="${s.name}" data-day="${day}" data-value="${value}" x="${PAD.left + slot * i + slot * 0.15}" ` +
        `y="${y}" width="${slot * 0.7}" height="${h}" fill="${s.color}"><title>${day} ${s.name}: ${value}${unit}</title></rect>`
    }).join("")
  }).join("")
  const legend = series.length > 1 ? legendOf(series) : ""
  return `<section><h2>${title}</h2><svg data-chart="${name}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">` +
    `${axes(max, unit, days, slot)}${bars}</svg>${legend}</section>`
}

const lines = (name: string, title: string, days: ReadonlyArray<string>, series: ReadonlyArray<Series & { readonly present: ReadonlyArray<boolean> }>, unit: string, fixedMax?: number) => {
  if (days.length === 0 || series.every((s) => s.present.every((p) => !p))) return empty(name, title)
  const max = fixedMax ?? niceMax(Math.max(...series.flatMap((s) => s.values.filter((_, i) => s.present[i]))))
  const slot = plotW / days.length
  const point = (i: number, value: number) => [PAD.left + slot * (i + 0.5), PAD.top + plotH - (value / max) * plotH] as const
  const drawn = series.map((s) => {
    const pts = days.flatMap((_, i) => s.present[i] ? [point(i, s.values[i]!)] : [])
    const path = pts.map(([x, y], k) => `${k === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`).join(" ")
    const dots = days.map((day, i) => {
      if (!s.present[i]) return ""
      const [x, y] = point(i, s.values[i]!)
      return `<circle data-series="${s.name}" data-day="${day}" data-value="${s.values[i]}" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.5" fill="${s.color}">` +
        `<title>${day} ${s.name}: ${s.values[i]}${unit}</title></circle>`
    }).join("")
    return `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>${dots}`
  }).join("")
  const legend = legendOf(series)
  return `<section><h2>${title}</h2><svg data-chart="${name}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">` +
    `${axes(max, unit, days, slot)}${drawn}</svg>${legend}</section>`
}

const horizontalBars = (name: string, title: string, rows: ReadonlyArray<{ label: string; value: number }>) => {
  if (rows.length === 0) return empty(name, title)
  const rowH = 26
  const height = Math.max(H, PAD.top + rows.length * rowH + 10)
  const labelW = 170
  const max = niceMax(Math.max(...rows.map((r) => r.value)))
  const bars = rows.map((row, i) => {
    const y = PAD.top + i * rowH
    const w = (row.value / max) * (W - labelW - 50)
    return `<text x="${labelW - 6}" y="${y + 16}" class="tick" text-anchor="end">${escape(row.label)}</text>` +
      `<rect data-series="${escape(row.label)}" data-value="${row.value}" x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 8}" fill="#c0504d"/>` +
      `<text x="${labelW + w + 6}" y="${y + 16}" class="tick">${row.value}</text>`
  }).join("")
  return `<section><h2>${title}</h2><svg data-chart="${name}" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}">${bars}</svg></section>`
}

/** The five charts of the window, as one HTML fragment. */
export const renderCharts = (data: DashboardData): string => {
  const days = data.days.map((d) => d.day)
  const finished = data.days.map((d) => d.delivered + d.refunded + d.failed)
  return [
    stackedBars("jobs-per-day", "Jobs per day by outcome", days, [
      { name: "delivered", color: "#2e7d32", values: data.days.map((d) => d.delivered) },
      { name: "refunded", color: "#ef8f00", values: data.days.map((d) => d.refunded) },
      { name: "failed", color: "#c62828", values: data.days.map((d) => d.failed) },
      { name: "in progress", color: "#90a4ae", values: data.days.map((d) => d.inProgress) }
    ]),
    lines("success-rate", "Success rate (delivered / finished)", days, [{
      name: "success",
      color: "#2e7d32",
      values: data.days.map((d, i) => finished[i]! === 0 ? 0 : Math.round((1000 * d.delivered) / finished[i]!) / 10),
      present: finished.map((n) => n > 0)
    }], "%", 100),
    horizontalBars("failure-classes", "Refunds and failures by class", data.failures.map((f) => ({ label: f.errorClass, value: f.jobs }))),
    stackedBars("revenue", "Revenue per day (net Stars)", days, [
      { name: "stars", color: "#f2b600", values: data.days.map((d) => d.netStars) }
    ]),
    lines("generation-time", "Generation time p50 / p95", days, [
      { name: "p50", color: "#1565c0", values: data.days.map((d) => (d.generationP50Ms ?? 0) / 1000), present: data.days.map((d) => d.generationP50Ms !== null) },
      { name: "p95", color: "#8e24aa", values: data.days.map((d) => (d.generationP95Ms ?? 0) / 1000), present: data.days.map((d) => d.generationP95Ms !== null) }
    ], "s")
  ].join("\n")
}
