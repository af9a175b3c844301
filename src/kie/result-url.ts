/**
 * Which result URLs the server may fetch. A finished task's URL comes from KIE's answer,
 * and the runner downloads it (and passes it to Telegram and to the user), so a URL that
 * points elsewhere (a cloud metadata address, a private service next to the runner) must be
 * refused before anything fetches it: https on KIE's result hosts, or the origin of the
 * configured KIE roots (KIE_BASE_URL / KIE_UPLOAD_BASE_URL: a simulator in tests and the
 * sandbox).
 */

/**
 * KIE's result files come from its CDN hosts (tempfile.aiquickdraw.com, tempfile.redpandaai.co,
 * …; the host varies per model): a host matches one of these or a subdomain of it.
 * KIE_RESULT_HOSTS replaces the list when KIE adds one.
 */
export const defaultResultHosts: ReadonlyArray<string> = ["aiquickdraw.com", "redpandaai.co", "kie.ai"]

export interface ResultUrlPolicy {
  /** Host names (and their subdomains) reached over https on the default port. */
  readonly hosts: ReadonlyArray<string>
  /** Roots whose origin is trusted as configured (any scheme and port). */
  readonly configuredRoots: ReadonlyArray<string>
}

const originOf = (raw: string): string | undefined => {
  try {
    return new URL(raw).origin
  } catch {
    return undefined
  }
}

/** Why `raw` must not be fetched, or undefined when it may. Names the host, never the whole URL. */
export const untrustedResultUrl = (raw: string, policy: ResultUrlPolicy): string | undefined => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return "the result URL is not a URL"
  }
  if (url.username !== "" || url.password !== "") return `the result URL on ${url.hostname} carries credentials`
  if (policy.configuredRoots.some((root) => originOf(root) === url.origin)) return undefined
  if (url.protocol !== "https:") return `the result URL on ${url.hostname} is ${url.protocol.replace(":", "")}, not https`
  const host = url.hostname.toLowerCase()
  const known = policy.hosts.some((allowed) => host === allowed || host.endsWith(`.${allowed}`))
  if (!known || url.port !== "") return `the result URL's host ${url.host} is not one of KIE's (${policy.hosts.join(", ")})`
  return undefined
}
