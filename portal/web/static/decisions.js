// The API's explanations: of a past call by its request id (only to the key that made
// it, or an admin key), and of a call that is only described (simulate).
import { apiCall, errorText } from "./api.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The decision of request `requestId`. Decisions are recorded just after the answer,
 *  so a missing one is asked for again a few times before giving up. */
export async function loadDecision(requestId, key, tries = 6) {
  let answer;
  for (let attempt = 0; attempt < tries; attempt += 1) {
    answer = await apiCall({ path: `/v1/decisions/${encodeURIComponent(requestId)}`, key });
    if (answer.ok && answer.json) return { decision: answer.json };
    if (answer.status !== 404) break;
    await sleep(150 * 2 ** attempt);
  }
  if (answer.status === 404) return { message: "No decision with this request id is visible to this key." };
  return { message: `The explanation could not be loaded: ${errorText(answer)}` };
}

/** Explain `request` ({method, path, headers}) as the engine would decide it now, without
 *  running it or using any limit. */
export async function simulate(request, key) {
  const answer = await apiCall({ method: "POST", path: "/v1/explain", body: request, key });
  if (answer.ok && answer.json) return { decision: answer.json };
  return { message: `The simulation failed: ${errorText(answer)}` };
}

/** The operation of `operations` whose template matches `method path`, and the values of
 *  its parameters as that call had them. */
export function matchOperation(operations, method, fullPath) {
  const [path, search] = fullPath.split("?");
  const query = new URLSearchParams(search || "");
  for (const op of operations) {
    if (op.method !== method) continue;
    const names = [];
    const pattern = op.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&")
      .replace(/\{([^}]+)\}/g, (_, name) => { names.push(name); return "([^/]+)"; });
    const match = new RegExp(`^${pattern}$`).exec(path);
    if (!match) continue;
    const values = {};
    names.forEach((name, i) => { values[`path:${name}`] = decodeURIComponent(match[i + 1]); });
    for (const [k, v] of query) values[`query:${k}`] = v;
    return { operation: op.id, values };
  }
  return null;
}
