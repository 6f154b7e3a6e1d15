// Assent Authenticator: activates through Assent's device API (/push/v2,
// RSA-SHA512 signed requests), lists and answers pushes, shows HOTP
// passcodes. No framework, no build step; keys never leave WebCrypto.
"use strict";

const DB_NAME = "assent-authenticator";
const POLL_MS = 3000;
const HISTORY_MAX = 50;

// ---- IndexedDB ----------------------------------------------------------

function openDB() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore("accounts", { keyPath: "pkey" });
      db.createObjectStore("history", { keyPath: "id", autoIncrement: true });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(store, mode, fn) {
  const db = await openDB();
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const result = fn(t.objectStore(store));
    t.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

const accounts = {
  all: () => tx("accounts", "readonly", (s) => s.getAll()),
  put: (a) => tx("accounts", "readwrite", (s) => s.put(a)),
  remove: (pkey) => tx("accounts", "readwrite", (s) => s.delete(pkey)),
};
const recent = {
  all: () => tx("history", "readonly", (s) => s.getAll()),
  add: async (h) => {
    await tx("history", "readwrite", (s) => s.add(h));
    const all = await recent.all();
    if (all.length > HISTORY_MAX) {
      const old = all.slice(0, all.length - HISTORY_MAX).map((x) => x.id);
      await tx("history", "readwrite", (s) => old.forEach((id) => s.delete(id)));
    }
  },
};

// ---- encodings ----------------------------------------------------------

function b64(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s);
}

function b64decode(s) {
  s = s.replace(/-/g, "+").replace(/_/g, "/");
  while (s.length % 4) s += "=";
  return atob(s);
}

function pem(spki) {
  const body = b64(spki).match(/.{1,64}/g).join("\n");
  return "-----BEGIN PUBLIC KEY-----\n" + body + "\n-----END PUBLIC KEY-----\n";
}

// encode is JavaScript's encodeURIComponent, which the server accepts as one
// of the known clients' encodings (sorted keys, %20 for space).
function encodeParams(params) {
  return Object.keys(params).sort()
    .map((k) => encodeURIComponent(k) + "=" + encodeURIComponent(params[k]))
    .join("&");
}

// parseActivation accepts the app link (https://host/app/#activate=duo://…,
// also another server's: the account is then that server's),
// a duo://code-b64host code, or code-b64host; it returns {code, host}.
function parseActivation(input) {
  let s = input.trim();
  const hash = s.indexOf("#");
  if (hash >= 0) {
    const frag = new URLSearchParams(s.slice(hash + 1));
    if (frag.has("activate")) s = frag.get("activate");
  }
  s = s.replace(/^duo:\/\//, "");
  const dash = s.indexOf("-");
  if (dash <= 0) throw new Error("This is not an activation link or code.");
  const code = s.slice(0, dash);
  let host;
  try {
    host = b64decode(s.slice(dash + 1));
  } catch (e) {
    throw new Error("The activation code names no server.");
  }
  if (!/^[A-Za-z0-9]+$/.test(code) || !/^[A-Za-z0-9.:\[\]-]+$/.test(host)) {
    throw new Error("This is not an activation link or code.");
  }
  return { code, host: host.toLowerCase() };
}

// ---- device API ---------------------------------------------------------

function rfc2822(d) {
  return d.toUTCString().replace("GMT", "-0000");
}

async function apiResult(resp) {
  let body;
  try {
    body = await resp.json();
  } catch (e) {
    throw new Error("The server answered " + resp.status + ".");
  }
  if (body.stat !== "OK") {
    const err = new Error(body.message_detail || body.message || "The server refused the request.");
    err.code = body.code;
    throw err;
  }
  return body.response;
}

async function signed(account, method, path, extra) {
  const params = Object.assign({ akey: account.akey, pkpush: "rsa-sha512" }, extra || {});
  const enc = encodeParams(params);
  const date = rfc2822(new Date());
  const canon = [date, method, account.host, path, enc].join("\n");
  const sig = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", account.privateKey, new TextEncoder().encode(canon));
  const headers = {
    "Authorization": "Basic " + btoa(account.pkey + ":" + b64(sig)),
    "X-Duo-Date": date,
  };
  let url = apiBase(account.host) + path;
  const init = { method, headers, cache: "no-store" };
  if (method === "GET") {
    url += "?" + enc;
  } else {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    init.body = enc;
  }
  return apiResult(await fetch(url, init));
}

// apiBase is where an account's device API is: this app's own server
// (same origin) or another Assent server, called across origins (its device
// API answers CORS; every request is signed by the account's key).
function apiBase(host) {
  if (host === location.host.toLowerCase() || host === location.hostname.toLowerCase()) return "";
  return "https://" + host;
}

function accountLabel(a) {
  return (a.name || "This phone") + " — " + a.customerName + (apiBase(a.host) ? " (" + a.host + ")" : "");
}

async function activate(input) {
  const { code, host } = parseActivation(input);
  const keys = await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
    false, ["sign", "verify"]);
  const spki = await crypto.subtle.exportKey("spki", keys.publicKey);
  const body = new URLSearchParams({
    pubkey: pem(spki), pkpush: "rsa-sha512", device_name: deviceName(), platform: "Assent Authenticator",
  });
  const resp = await fetch(apiBase(host) + "/push/v2/activation/" + encodeURIComponent(code), {
    method: "POST", body, cache: "no-store",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  const r = await apiResult(resp);
  const account = {
    pkey: r.pkey, akey: r.akey, host, customerName: r.customer_name || "Assent",
    hotpSecret: r.hotp_secret, hotpCounter: 0, privateKey: keys.privateKey, created: Date.now(),
  };
  await accounts.put(account);
  try {
    const info = await signed(account, "GET", "/push/v2/device/info");
    account.name = info.name;
    await accounts.put(account);
  } catch (e) { /* the account works without its name */ }
  return account;
}

function deviceName() {
  const ua = navigator.userAgent;
  if (/iPhone|iPad/.test(ua)) return "iPhone (Assent Authenticator)";
  if (/Android/.test(ua)) return "Android (Assent Authenticator)";
  return "Assent Authenticator";
}

// ---- HOTP (RFC 4226, SHA-1, 6 digits; key = ASCII bytes of hotp_secret) --

async function hotp(secret, counter) {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const msg = new ArrayBuffer(8);
  const view = new DataView(msg);
  view.setUint32(0, Math.floor(counter / 0x100000000));
  view.setUint32(4, counter >>> 0);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, msg));
  const off = mac[19] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1000000).padStart(6, "0");
}

// ---- UI -----------------------------------------------------------------

const $ = (id) => document.getElementById(id);
let answering = new Set();
let pollTimer = null;

function status(text, kind) {
  const s = $("status");
  s.textContent = text || "";
  s.className = kind || "";
}

function setState(state) {
  const m = $("main");
  m.dataset.state = state;
  m.setAttribute("aria-busy", "false");
}

async function renderAccounts() {
  const list = await accounts.all();
  const ul = $("accounts");
  ul.replaceChildren();
  $("no-accounts").hidden = list.length > 0;
  for (const a of list) {
    const li = $("account-template").content.firstElementChild.cloneNode(true);
    li.dataset.pkey = a.pkey;
    li.querySelector(".name").textContent = accountLabel(a);
    li.querySelector(".host").textContent = a.host;
    li.querySelector(".show-passcode").addEventListener("click", async () => {
      const fresh = (await accounts.all()).find((x) => x.pkey === a.pkey) || a;
      const code = await hotp(fresh.hotpSecret, fresh.hotpCounter);
      fresh.hotpCounter++;
      await accounts.put(fresh);
      li.querySelector(".passcode").textContent = code;
    });
    li.querySelector(".remove").addEventListener("click", async () => {
      if (!confirm("Remove this account from this phone? You will need a new activation code to add it again.")) return;
      await accounts.remove(a.pkey);
      await renderAccounts();
    });
    ul.append(li);
  }
  $("notify-section").hidden = list.length === 0 || !("PushManager" in window) || Notification.permission === "granted";
  return list;
}

async function renderHistory() {
  const list = (await recent.all()).reverse();
  const ul = $("history");
  ul.replaceChildren();
  $("no-history").hidden = list.length > 0;
  for (const h of list) {
    const li = document.createElement("li");
    const verdict = document.createElement("span");
    verdict.className = h.answer === "approve" ? "allow" : h.answer === "fraud" ? "fraud-text" : "deny-text";
    verdict.textContent = h.answer === "approve" ? "Approved" : h.answer === "fraud" ? "Reported" : "Denied";
    li.append(verdict, " " + h.summary + " · " + h.username + " · " + new Date(h.time).toLocaleString());
    ul.append(li);
  }
}

function renderPush(account, t) {
  const li = $("push-template").content.firstElementChild.cloneNode(true);
  li.dataset.txid = t.urgid;
  li.querySelector(".summary").textContent = t.summary;
  li.querySelector(".account-name").textContent = accountLabel(account);
  li.setAttribute("aria-label", t.summary + " (" + accountLabel(account) + ")");
  const dl = li.querySelector(".attrs");
  const attrs = (t.attributes || []).slice();
  if (t.type && !attrs.some((kv) => kv[0] === "Type")) attrs.push(["Type", t.type]);
  for (const [k, v] of attrs) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
  // Verified Push: the code shown where the sign-in waits (never sent to
  // the phone) must be typed before approving.
  const info = t.step_up_code_info;
  if (info && info.num_digits > 0) {
    const p = li.querySelector(".stepup");
    p.hidden = false;
    const input = p.querySelector("input");
    input.maxLength = info.num_digits;
    p.querySelector("label").firstChild.textContent = "Type the code " + codeSource(t) + "\n";
  }
  for (const [cls, answer] of [["approve", "approve"], ["deny", "deny"], ["fraud", "fraud"]]) {
    li.querySelector("." + cls).addEventListener("click", () => answerPush(account, t, answer, li));
  }
  return li;
}

// codeSource says where a Verified Push's code comes from: a help desk's
// identity check (Admin API send_verification_push, transaction type
// "Identity verification") has it read out by the help desk; a login shows
// it on the sign-in screen.
function codeSource(t) {
  return t.type === "Identity verification" ? "your help desk reads to you" : "shown on the sign-in screen";
}

async function answerPush(account, t, answer, li) {
  if (answering.has(t.urgid)) return;
  answering.add(t.urgid);
  const params = { answer };
  const info = t.step_up_code_info;
  if (answer === "approve" && info && info.num_digits > 0) {
    const code = li.querySelector(".stepup-code").value.trim();
    if (!new RegExp("^[0-9]{" + info.num_digits + "}$").test(code)) {
      answering.delete(t.urgid);
      status("Type the " + info.num_digits + "-digit code " + codeSource(t) + " first.", "error");
      li.querySelector(".stepup-code").focus();
      return;
    }
    params.step_up_code = code;
  }
  li.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  try {
    const path = "/push/v2/device/transactions/" + encodeURIComponent(t.urgid);
    let r;
    try {
      r = await signed(account, "POST", path, params);
    } catch (e) {
      // A server without fraud reports refuses answer=fraud (40002): deny.
      if (answer !== "fraud" || e.code !== 40002) throw e;
      r = await signed(account, "POST", path, { answer: "deny" });
      r.fallback = true;
    }
    const result = (r && r.result) || answer;
    const user = (t.attributes || []).find((kv) => kv[0] === "Username");
    await recent.add({ txid: t.urgid, answer: result, summary: t.summary, username: user ? user[1] : "", time: Date.now() });
    li.remove();
    status(result === "approve" ? "Approved." : result === "fraud" ? "Reported: your administrator is told that this wasn't you." :
      r.fallback ? "Denied (this server takes no reports; tell your administrator)." :
      answer === "approve" ? "Denied: the code did not match." : "Denied.", "");
    await renderHistory();
  } catch (e) {
    status("Could not answer: " + e.message, "error");
    li.querySelectorAll("button").forEach((b) => { b.disabled = false; });
  } finally {
    answering.delete(t.urgid);
  }
  await poll();
}

async function poll() {
  const list = await accounts.all();
  const ul = $("pending");
  const seen = new Set();
  let failures = 0;
  for (const a of list) {
    let txs;
    try {
      txs = (await signed(a, "GET", "/push/v2/device/transactions")).transactions || [];
    } catch (e) {
      failures++;
      continue;
    }
    for (const t of txs) {
      seen.add(t.urgid);
      if (!ul.querySelector('[data-txid="' + CSS.escape(t.urgid) + '"]')) ul.append(renderPush(a, t));
    }
  }
  for (const li of ul.querySelectorAll("li[data-txid]")) {
    if (!seen.has(li.dataset.txid) && !answering.has(li.dataset.txid)) li.remove();
  }
  $("pending-section").hidden = ul.children.length === 0;
  if (failures > 0 && failures === list.length) status("Cannot reach the server; showing passcodes only.", "error");
  document.title = ul.children.length ? "(" + ul.children.length + ") Assent Authenticator" : "Assent Authenticator";
}

function schedulePoll() {
  clearTimeout(pollTimer);
  if (document.visibilityState !== "visible") return;
  pollTimer = setTimeout(async () => {
    try { await poll(); } finally { schedulePoll(); }
  }, POLL_MS);
}

// ---- Web Push -----------------------------------------------------------

function urlB64ToBytes(s) {
  const raw = b64decode(s);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function enableNotifications() {
  const reg = await navigator.serviceWorker.ready;
  const perm = await Notification.requestPermission();
  if (perm !== "granted") throw new Error("Notifications were not allowed.");
  const key = await (await fetch("/app/vapid-public-key", { cache: "no-store" })).text();
  let sub = await reg.pushManager.getSubscription();
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: urlB64ToBytes(key.trim()) });
  await registerSubscription(sub);
}

async function registerSubscription(sub) {
  const j = sub.toJSON();
  // The subscription is bound to this server's VAPID key: only this
  // server's accounts can wake the app; the others' pushes show by polling.
  for (const a of await accounts.all()) {
    if (apiBase(a.host)) continue;
    await signed(a, "POST", "/push/v2/device/webpush", { endpoint: j.endpoint, p256dh: j.keys.p256dh, auth: j.keys.auth });
  }
}

// ---- start --------------------------------------------------------------

async function activateFromFragment() {
  const frag = new URLSearchParams(location.hash.slice(1));
  const code = frag.get("activate");
  if (!code) return;
  // Take the code out of the address bar and history at once.
  clearFragment();
  status("Activating…", "");
  try {
    const a = await activate(code);
    status("Activated: this phone now answers requests for " + a.customerName + ".", "");
  } catch (e) {
    status("Activation failed: " + e.message, "error");
  }
}

function clearFragment() {
  window.history.replaceState(null, "", location.pathname);
}

async function start() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
    navigator.serviceWorker.addEventListener("message", (ev) => {
      if (ev.data && ev.data.type === "push") {
        status("New request: " + ev.data.title, "");
        poll();
      }
    });
  }
  $("activate-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("activation-input");
    try {
      const a = await activate(input.value);
      input.value = "";
      status("Activated: this phone now answers requests for " + a.customerName + ".", "");
    } catch (e) {
      status("Activation failed: " + e.message, "error");
    }
    await renderAccounts();
    await poll();
  });
  $("notify-button").addEventListener("click", async () => {
    try {
      await enableNotifications();
      status("Notifications are on.", "");
      $("notify-section").hidden = true;
    } catch (e) {
      status("Notifications are off: " + e.message, "error");
    }
  });
  window.addEventListener("hashchange", async () => {
    await activateFromFragment();
    await renderAccounts();
    await poll();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") poll();
    schedulePoll();
  });
  await activateFromFragment();
  const list = await renderAccounts();
  await renderHistory();
  await poll().catch(() => {});
  // Subscriptions rotate: re-register each time the app opens.
  if (list.length && "PushManager" in window && Notification.permission === "granted") {
    enableNotifications().catch(() => {});
  }
  setState("ready");
  schedulePoll();
}

start().catch((e) => status("The app could not start: " + e.message, "error"));
