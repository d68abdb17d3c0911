// Calls to the API, with the reader's key as a bearer token and a request id of our own,
// so the decision behind any answer can be looked up and explained afterwards.

export function newRequestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function withQuery(path, query) {
  const pairs = (query || []).filter(([, v]) => v !== "" && v !== undefined && v !== null);
  if (!pairs.length) return path;
  return `${path}?${new URLSearchParams(pairs.map(([k, v]) => [k, String(v)])).toString()}`;
}

/** Send one request; the answer's status, headers and body, whatever they are. */
export async function apiCall({ method = "GET", path, query = [], headers = [], body, key, requestId }) {
  const rid = requestId || newRequestId();
  const sent = new Headers(headers);
  sent.set("X-Request-ID", rid);
  if (key) sent.set("Authorization", `Bearer ${key}`);
  const init = { method, headers: sent, credentials: "omit", cache: "no-store" };
  if (body !== undefined && body !== null && !["GET", "HEAD"].includes(method)) {
    sent.set("Content-Type", "application/json");
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const started = performance.now();
  const response = await fetch(withQuery(path, query), init);
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    headers: [...response.headers.entries()],
    header: (name) => response.headers.get(name),
    text,
    json,
    requestId: response.headers.get("X-Request-ID") || rid,
    ms: Math.round(performance.now() - started),
  };
}

/** The API's error body in words: "CODE: message", or the status when there is none. */
export function errorText(answer) {
  const error = answer.json && answer.json.error;
  if (error && error.code) return `${error.code}: ${error.message || ""}`.trim();
  return `HTTP ${answer.status} ${answer.statusText || ""}`.trim();
}

/** JSON for a call that must succeed, else an Error whose message is the API's. */
export async function apiJson(options) {
  const answer = await apiCall(options);
  if (!answer.ok) {
    const failure = new Error(errorText(answer));
    failure.answer = answer;
    throw failure;
  }
  return answer.json;
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}
