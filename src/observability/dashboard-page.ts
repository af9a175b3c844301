/**
 * The operators' dashboard as one HTML page with inline SVG charts drawn here, on the
 * server: no script, no fonts, no network. Every chart is an `<svg data-chart=…>` whose
 * marks carry `data-day`/`data-value`, which the browser test reads.
 */
export interface DashboardData {
  readonly generatedAt: string
  readonly inFlight: number
  readonly days: ReadonlyArray<{
    readonly day: string
    readonly delivered: number
    readonly refunded: number
    readonly failed: number
    readonly inProgress: number
    readonly netStars: number
    readonly generationP50Ms: number | null
    readonly generationP95Ms: number | null
  }>
  readonly failures: ReadonlyArray<{ readonly errorClass: string; readonly jobs: number }>
}

const escape = (text: string) =>
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
  const legend = series.length > 1
    ? `<p class="legend">${series.map((s) => `<span><i style="background:${s.color}"></i>${s.name}</span>`).join("")}</p>`
    : ""
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
  const legend = `<p class="legend">${series.map((s) => `<span><i style="background:${s.color}"></i>${s.name}</span>`).join("")}</p>`
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

export const renderDashboard = (data: DashboardData): string => {
  const days = data.days.map((d) => d.day)
  const finished = data.days.map((d) => d.delivered + d.refunded + d.failed)
  const totals = data.days.reduce(
    (acc, d) => ({ delivered: acc.delivered + d.delivered, finished: acc.finished + d.delivered + d.refunded + d.failed, stars: acc.stars + d.netStars }),
    { delivered: 0, finished: 0, stars: 0 }
  )
  const rate = totals.finished === 0 ? "–" : `${Math.round((100 * totals.delivered) / totals.finished)}%`
  const charts = [
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
    horizontalBars("failure-classes", "Failure classes", data.failures.map((f) => ({ label: f.errorClass, value: f.jobs }))),
    stackedBars("revenue", "Revenue per day (net Stars)", days, [
      { name: "stars", color: "#f2b600", values: data.days.map((d) => d.netStars) }
    ]),
    lines("generation-time", "Generation time p50 / p95", days, [
      { name: "p50", color: "#1565c0", values: data.days.map((d) => (d.generationP50Ms ?? 0) / 1000), present: data.days.map((d) => d.generationP50Ms !== null) },
      { name: "p95", color: "#8e24aa", values: data.days.map((d) => (d.generationP95Ms ?? 0) / 1000), present: data.days.map((d) => d.generationP95Ms !== null) }
    ], "s")
  ].join("\n")
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Photo-video bot · dashboard</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f5f6f8;color:#1d2430}
header{padding:16px 24px;background:#fff;border-bottom:1px solid #dde1e6;display:flex;gap:32px;align-items:baseline;flex-wrap:wrap}
h1{font-size:18px;margin:0}h2{font-size:14px;margin:0 0 8px}
.kpi{font-size:13px;color:#5b6472}.kpi b{display:block;font-size:24px;color:#1d2430}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(590px,1fr));gap:16px;padding:16px 24px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px}
svg{max-width:100%;height:auto}.grid{stroke:#e6e9ed}.tick{font-size:11px;fill:#5b6472}
.legend{margin:4px 0 0;font-size:12px;color:#5b6472}.legend span{margin-right:14px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
footer{padding:0 24px 16px;color:#8a93a0;font-size:12px}
</style></head><body>
<header><h1>Photo-video bot</h1>
<div class="kpi" data-kpi="in-flight">in flight now<b>${data.inFlight}</b></div>
<div class="kpi" data-kpi="success-rate">success, ${days.length} days<b>${rate}</b></div>
<div class="kpi" data-kpi="delivered">videos delivered<b>${totals.delivered}</b></div>
<div class="kpi" data-kpi="stars">net Stars<b>${totals.stars}</b></div>
</header>
<main>
${charts}
</main>
<footer>Days are UTC, from the analytics views; generated ${escape(data.generatedAt)}.</footer>
</body></html>`
}
