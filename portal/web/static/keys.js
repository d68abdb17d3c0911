// The keys page: create a key (its secret shown once), list and filter keys.
import { apiJson, el } from "./api.js";
import { adminKey, keyRow, recordOf, secretOf } from "./admin.js";
import { getKey, setKey } from "./keystore.js";

const $ = (id) => document.getElementById(id);
const rows = $("keys-table").tBodies[0];
let cursor = null;
let createdSecret = "";

function filters() {
  const form = new FormData($("key-filters"));
  return [...form.entries()].filter(([, v]) => v !== "");
}

async function list(first) {
  const key = getKey("admin");
  if (!key) { $("keys-status").textContent = "Enter an admin key to manage keys."; return; }
  const query = [...filters(), ["limit", "50"]];
  if (!first && cursor) query.push(["cursor", cursor]);
  try {
    const page = await apiJson({ path: "/v1/keys", query, key });
    if (first) rows.replaceChildren();
    for (const record of page.data || []) rows.append(keyRow(record));
    cursor = page.next_cursor || null;
    $("keys-table").hidden = rows.rows.length === 0;
    $("keys-more").hidden = !cursor;
    $("keys-status").textContent = rows.rows.length ? `${rows.rows.length} keys shown.` : "No key matches.";
  } catch (e) {
    $("keys-status").textContent = `The keys could not be listed: ${e.message}`;
  }
}

function describeType() {
  const option = $("new-type").selectedOptions[0];
  $("new-type-hint").textContent = option ? option.dataset.description : "";
  const own = option && option.dataset.ownScopes === "true";
  for (const box of document.querySelectorAll("#new-scopes input")) box.disabled = !own;
}

async function create(event) {
  event.preventDefault();
  const form = new FormData($("create-key"));
  const body = { type: form.get("type"), label: form.get("label").trim(), environment: form.get("environment") };
  if (!body.label) { $("create-status").textContent = "Give the key a label."; $("new-label").focus(); return; }
  const expires = form.get("expires_in").trim();
  if (expires) body.expires_in = expires;
  const rate = form.get("rate_limit").trim();
  if (rate) body.rate_limit = rate;
  const ips = form.get("allowed_ips").split(/\s+/).filter(Boolean);
  if (ips.length) body.allowed_ips = ips;
  const scopes = form.getAll("scopes");
  if (scopes.length) body.scopes = scopes;
  $("create-status").textContent = "Creating…";
  try {
    const answer = await apiJson({ method: "POST", path: "/v1/keys", body, key: getKey("admin") });
    const record = recordOf(answer);
    createdSecret = secretOf(answer);
    $("created-secret").textContent = createdSecret;
    $("created-link").href = `/keys/${encodeURIComponent(record.id)}`;
    $("created").hidden = false;
    $("created").focus();
    $("create-status").textContent = `Created ${record.id}.`;
    $("create-key").reset();
    describeType();
    list(true);
  } catch (e) {
    $("create-status").textContent = `Not created: ${e.message}`;
  }
}

$("new-type").addEventListener("change", describeType);
$("create-key").addEventListener("submit", create);
$("key-filters").addEventListener("submit", (event) => { event.preventDefault(); list(true); });
$("keys-more").addEventListener("click", () => list(false));
$("use-created").addEventListener("click", (event) => {
  setKey(createdSecret);
  event.currentTarget.textContent = "Ready in the console";
});
describeType();
adminKey("admin-key", () => list(true));
