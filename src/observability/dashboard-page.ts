/**
 * The operators' dashboard: one HTML page whose parts (the key figures, the live state,
 * the charts) are fragments rendered here. The page's small script fetches
 * `/dashboard/data.json` for another window or a refresh and swaps the fragments in, so
 * the page is never reloaded; it runs under a nonce-only Content-Security-Policy.
 */
import { Duration } from "effect"
import { escape, renderCharts } from "./dashboard-charts.js"
import { type DashboardData, type LiveState, windowChoices } from "./dashboard-data.js"

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

const windowLabel = (days: number) => days === 1 ? "today" : `last ${plural(days, "day", "days")}`

const ago = (seconds: number | null) =>
  seconds === null ? "–" : seconds < 120 ? `${seconds} s ago` : seconds < 7200 ? `${Math.round(seconds / 60)} min ago` : `${Math.round(seconds / 3600)} h ago`

const kpis = (data: DashboardData) => {
  const totals = data.days.reduce(
    (acc, d) => ({ delivered: acc.delivered + d.delivered, finished: acc.finished + d.delivered + d.refunded + d.failed, stars: acc.stars + d.netStars }),
    { delivered: 0, finished: 0, stars: 0 }
  )
  const rate = totals.finished === 0 ? "–" : `${Math.round((100 * totals.delivered) / totals.finished)}%`
  const kpi = (name: string, label: string, value: string | number) => `<div class="kpi" data-kpi="${name}">${label}<b>${value}</b></div>`
  return kpi("in-flight", "in flight now", data.inFlight) +
    kpi("success-rate", `success, ${windowLabel(data.windowDays)}`, rate) +
    kpi("delivered", `videos delivered, ${windowLabel(data.windowDays)}`, totals.delivered) +
    kpi("stars", `net Stars, ${windowLabel(data.windowDays)}`, totals.stars)
}

const table = (name: string, head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>, empty: string) =>
  rows.length === 0
    ? `<p class="muted" data-table="${name}">${empty}</p>`
    : `<table data-table="${name}"><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr>` +
      rows.map((row) => `<tr>${row.map((cell) => `<td>${typeof cell === "number" ? cell : escape(cell)}</td>`).join("")}</tr>`).join("") +
      `</table>`

const rate = (limit: number, windowMs: number) => {
  const perSecond = limit / (windowMs / 1000)
  return perSecond >= 1 ? `${Number(perSecond.toFixed(1))}/s` : `${Number((perSecond * 60).toFixed(1))}/min`
}

const live = (state: LiveState) => {
  const heldShards = state.runners.reduce((sum, r) => sum + r.shards, 0)
  const runners = table("runners", ["runner", "shards", "healthy", "heartbeat"], state.runners.map((r) => [
    `${r.address}${r.self ? " (this one)" : ""}`,
    r.shards,
    r.healthy === null ? "–" : r.healthy ? "yes" : "NO",
    ago(r.heartbeatAgeSeconds)
  ]), "no runner registered")
  const kie = state.kie.state === "closed"
    ? `<p data-kie="closed"><span class="ok">closed</span>: submissions go to KIE</p>`
    : `<p data-kie="open"><span class="bad">OPEN since ${escape(state.kie.since.slice(0, 19).replace("T", " "))} UTC</span>: ` +
      `${escape(state.kie.message)}. New jobs wait in the queue; probes that failed since: ${state.kie.failedProbes}.</p>`
  const jobs = table("jobs-by-state", ["state", "jobs", "oldest"], state.jobsByState.map((j) => [j.state, j.jobs, ago(j.oldestAgeSeconds)]), "no unfinished job")
  const limits = state.limits
  const store = limits.store === "redis"
    ? `shared by all runners (Redis)`
    : limits.store === "in-process"
    ? `this process only (no REDIS_URL)`
    : `<span class="bad">local since ${escape((limits.since ?? "").slice(0, 19).replace("T", " "))} UTC</span>: Redis failed ` +
      `(${escape(limits.reason ?? "")}); global budgets at 1/${limits.runners ?? 1} each`
  const budgets = table("budgets", ["budget", "limit", "last minute, this runner", "waited or refused", "longest wait"], limits.budgets.map((b) => [
    `${b.budget}${b.global ? " (all runners)" : ""}`,
    b.algorithm === "token-bucket" ? `${rate(b.limit, b.windowMs)}, burst ${b.limit}` : `${b.limit} per ${Duration.format(Duration.millis(b.windowMs))}`,
    `${plural(b.requests, "request", "requests")}${b.keys > 1 ? ` (${b.keys} keys)` : ""}`,
    b.held,
    b.longestWaitMs === 0 ? "–" : `${(b.longestWaitMs / 1000).toFixed(1)} s`
  ]), "nothing asked of the limits in the last minute")
  return `<section><h2>Runners · ${heldShards} of ${state.shards} shards held</h2>${runners}</section>` +
    `<section><h2>KIE circuit breaker</h2>${kie}</section>` +
    `<section><h2>Unfinished jobs by state</h2>${jobs}</section>` +
    `<section><h2>Rate limits: ${store}</h2>${budgets}</section>`
}

/** The fragments the page's script swaps in, by element id. */
export const dashboardFragments = (data: DashboardData) => ({
  kpis: kpis(data),
  live: live(data.live),
  charts: renderCharts(data)
})

const style = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f5f6f8;color:#1d2430}
header{padding:12px 24px;background:#fff;border-bottom:1px solid #dde1e6;display:flex;gap:20px;align-items:center;flex-wrap:wrap}
h1{font-size:18px;margin:0}h2{font-size:14px;margin:0 0 8px}
#kpis{display:flex;gap:32px;padding:12px 24px 0;flex-wrap:wrap}
.kpi{font-size:13px;color:#5b6472}.kpi b{display:block;font-size:24px;color:#1d2430}
.controls{display:flex;gap:12px;align-items:center;margin-left:auto}.controls form{margin:0}
#live{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:16px;padding:16px 24px 0}
#charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(590px,1fr));gap:16px;padding:16px 24px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px}
table{border-collapse:collapse;width:100%;font-size:13px}th{text-align:left;color:#5b6472;font-weight:500}
td,th{padding:3px 8px 3px 0;border-bottom:1px solid #eef0f3}.muted{color:#8a93a0;margin:0}
.ok{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}
svg{max-width:100%;height:auto}.grid{stroke:#e6e9ed}.tick{font-size:11px;fill:#5b6472}
.legend{margin:4px 0 0;font-size:12px;color:#5b6472}.legend span{margin-right:14px}
.legend .swatch{margin-right:4px;vertical-align:-1px}
footer{padding:0 24px 16px;color:#8a93a0;font-size:12px}
.signin{max-width:360px;margin:80px auto;background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:24px}
.signin input{width:100%;box-sizing:border-box;padding:8px;margin:8px 0 12px;font:inherit}.error{color:#c62828}`

const head = (nonce: string, title: string) =>
  `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title><style nonce="${nonce}">${style}</style></head>`

// Fetches the data for the chosen window and swaps the fragments in; a lost session
// (401) goes back to the sign-in form. The window is kept in the address, never a secret.
const script = `
const days = document.getElementById("days"), every = document.getElementById("every"), statusLine = document.getElementById("status");
let timer;
async function load() {
  statusLine.textContent = "updating…";
  try {
    const response = await fetch("/dashboard/data.json?days=" + days.value, { headers: { accept: "application/json" }, cache: "no-store" });
    if (response.status === 401) { location.assign("/dashboard"); return; }
    if (!response.ok) throw new Error("HTTP " + response.status);
    const data = await response.json();
    for (const [id, html] of Object.entries(data.html)) document.getElementById(id).innerHTML = html;
    document.body.dataset.generatedAt = data.generatedAt;
    statusLine.textContent = "updated " + new Date(data.generatedAt).toLocaleTimeString();
    history.replaceState(null, "", "/dashboard?days=" + days.value);
  } catch (error) {
    statusLine.textContent = "not updated: " + error.message;
  }
}
function schedule() { clearInterval(timer); if (Number(every.value) > 0) timer = setInterval(load, Number(every.value) * 1000); }
days.addEventListener("change", load);
every.addEventListener("change", schedule);
document.getElementById("refresh").addEventListener("click", load);
schedule();`

export const renderDashboard = (data: DashboardData, nonce: string): string => {
  const fragments = dashboardFragments(data)
  const options = windowChoices.map((n) => `<option value="${n}"${n === data.windowDays ? " selected" : ""}>${windowLabel(n)}</option>`).join("")
  return `${head(nonce, "Photo-video bot · dashboard")}<body data-generated-at="${escape(data.generatedAt)}">
<header><h1>Photo-video bot</h1>
<div class="controls">
<label>window <select id="days">${options}</select></label>
<label>refresh <select id="every"><option value="0">off</option><option value="15">every 15 s</option><option value="30" selected>every 30 s</option><option value="60">every minute</option></select></label>
<button type="button" id="refresh">Refresh now</button><span id="status" class="muted">updated ${escape(data.generatedAt.slice(11, 19))} UTC</span>
<form method="post" action="/dashboard/signout"><button type="submit">Sign out</button></form>
</div></header>
<div id="kpis">${fragments.kpis}</div>
<div id="live">${fragments.live}</div>
<main id="charts">${fragments.charts}</main>
<footer>Days are UTC, from the analytics views; the live state is this runner's view of the cluster.</footer>
<script type="module" nonce="${nonce}">${script}</script>
</body></html>`
}

/** The sign-in form: the token goes in a POST body, never in an address. */
export const renderSignIn = (nonce: string, problem?: string): string =>
  `${head(nonce, "Photo-video bot · sign in")}<body>
<form class="signin" method="post" action="/dashboard/session">
<h1>Photo-video bot</h1><p>Operators' dashboard. Sign in with <code>DASHBOARD_TOKEN</code>.</p>
${problem === undefined ? "" : `<p class="error" role="alert">${escape(problem)}</p>`}
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form></body></html>`
