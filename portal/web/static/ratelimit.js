// The IETF RateLimit header fields in words: "RateLimit-Policy: "default";q=600;w=60"
// and "RateLimit: "default";r=42;t=17" say 42 of 600 left in a 60 s window, 17 s to go.

function items(value) {
  const found = [];
  for (const item of (value || "").split(",")) {
    const [name, ...params] = item.trim().split(";");
    if (!name) continue;
    const entry = { name: name.trim().replace(/^"|"$/g, "") };
    for (const param of params) {
      const [k, v] = param.trim().split("=");
      if (k && v !== undefined && /^\d+$/.test(v)) entry[k] = Number(v);
    }
    found.push(entry);
  }
  return found;
}

/** Each limit: name, limit (q), window (w, seconds), remaining (r), reset (t, seconds). */
export function parseLimits(header) {
  const policies = Object.fromEntries(items(header("RateLimit-Policy")).map((p) => [p.name, p]));
  return items(header("RateLimit")).map((s) => ({
    name: s.name,
    remaining: s.r,
    reset: s.t,
    limit: policies[s.name]?.q,
    window: policies[s.name]?.w,
  }));
}

function seconds(n) {
  if (n === undefined) return "";
  if (n < 120) return `${n} second${n === 1 ? "" : "s"}`;
  if (n < 7200) return `${Math.round(n / 60)} minutes`;
  return `${Math.round(n / 3600)} hours`;
}

export function limitInWords(l) {
  const of = l.limit !== undefined ? ` of ${l.limit}` : "";
  const per = l.window !== undefined ? ` per ${seconds(l.window)}` : "";
  const reset = l.reset !== undefined ? `; full again in ${seconds(l.reset)}` : "";
  return `“${l.name}”: ${l.remaining ?? "?"}${of} requests left${per}${reset}`;
}

/** Everything the headers say about the limits, as sentences. */
export function rateLimitWords(header) {
  const words = parseLimits(header).map(limitInWords);
  const retry = header("Retry-After");
  if (retry) words.push(`Over the limit: retry after ${seconds(Number(retry)) || retry}.`);
  return words;
}
