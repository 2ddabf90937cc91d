// Zart dashboard: the core. The API client and its tokens, the hash router, DOM
// and formatting helpers, notices and dialogs. The views (list.js, detail.js,
// admin.js) register themselves in Z.views; everything is built with DOM calls
// (textContent, never innerHTML), so no server text can become markup.
"use strict";

const Z = (window.Zart = { views: {} });

(function core() {
  const body = document.body.dataset;
  const prefixes = { api: body.apiPrefix, admin: body.adminPrefix };
  const needs = { api: body.apiToken === "required", admin: body.adminToken === "required" };
  const STORE = { api: "zart.apiToken", admin: "zart.adminToken" };

  // ---------------------------------------------------------------- tokens
  // Tokens live in sessionStorage (gone with the tab), travel only in the
  // Authorization header, and are never put in a URL or logged.
  Z.token = (scope) => sessionStorage.getItem(STORE[scope]) || "";
  Z.setToken = (scope, value) => {
    if (value) sessionStorage.setItem(STORE[scope], value);
    else sessionStorage.removeItem(STORE[scope]);
  };
  Z.tokensNeeded = () => needs.api || needs.admin;
  // The admin routes take the admin token when one is set on the server, else the
  // API token (or nothing).
  const bearer = (scope) =>
    scope === "admin" && needs.admin ? Z.token("admin") : needs.api || needs.admin ? Z.token("api") : "";
  // Whether admin actions can be taken: false until the admin routes answered
  // without a 401 (re-probed when a token changes).
  Z.adminOpen = !needs.admin && !needs.api;

  // ---------------------------------------------------------------- API client
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }
  Z.ApiError = ApiError;

  Z.api = async function api(method, path, options = {}) {
    const scope = options.admin ? "admin" : "api";
    let url = prefixes[scope] + path;
    if (options.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(options.query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
      const text = q.toString();
      if (text) url += "?" + text;
    }
    const headers = { Accept: "application/json" };
    const token = bearer(scope);
    if (token) headers.Authorization = "Bearer " + token;
    Object.assign(headers, options.headers || {});
    const init = { method, headers, cache: "no-store" };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, "the server did not answer (" + e.message + ")");
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = text;
      }
    }
    if (!response.ok) {
      const message = data && typeof data === "object" && data.error ? data.error : String(data || response.statusText);
      if (response.status === 401) onUnauthorized(scope);
      throw new ApiError(response.status, message);
    }
    if (options.admin) Z.adminOpen = true;
    return data;
  };
  Z.get = (path, query) => Z.api("GET", path, { query });
  Z.adminGet = (path, query) => Z.api("GET", path, { query, admin: true });
  Z.post = (path, body, extra = {}) => Z.api("POST", path, Object.assign({ body }, extra));
  Z.adminPost = (path, body) => Z.api("POST", path, { body, admin: true });
  Z.adminDelete = (path) => Z.api("DELETE", path, { admin: true });
  Z.enc = encodeURIComponent;

  function onUnauthorized(scope) {
    if (scope === "admin") {
      Z.adminOpen = false;
      document.body.classList.add("admin-locked");
    }
  }

  // Probes the admin routes once so that admin controls are enabled or disabled
  // before the user reaches for them.
  Z.probeAdmin = async function probeAdmin() {
    if (needs.admin && !Z.token("admin")) Z.adminOpen = false;
    else if (needs.api && !needs.admin && !Z.token("api")) Z.adminOpen = false;
    else {
      try {
        await Z.adminGet("/pause");
        Z.adminOpen = true;
      } catch (e) {
        Z.adminOpen = false;
      }
    }
    document.body.classList.toggle("admin-locked", !Z.adminOpen);
  };

  // ---------------------------------------------------------------- DOM helpers
  // h("a.link", {href}, "text", child): an element with classes, attributes,
  // properties (on*, value, checked, disabled) and children (strings are text).
  Z.h = function h(spec, attrs, ...children) {
    const [tag, ...classes] = spec.split(".");
    const el = document.createElement(tag || "div");
    if (classes.length) el.className = classes.join(" ");
    if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
      children.unshift(attrs);
      attrs = null;
    }
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "value" || k === "checked" || k === "disabled" || k === "selected") el[k] = v;
      else if (k === "dataset") Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    append(el, children);
    return el;
  };
  function append(el, children) {
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else el.append(c instanceof Node ? c : String(c));
    }
  }
  Z.clear = (el) => {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  };
  Z.main = () => document.getElementById("main");

  // An admin button: disabled, with a hint, while the admin routes are locked.
  Z.adminButton = function adminButton(label, onclick, cls = "") {
    const b = Z.h("button" + (cls ? "." + cls : ""), { type: "button", onclick }, label);
    b.classList.add("admin");
    if (!Z.adminOpen) {
      b.disabled = true;
      b.title = "needs the admin token";
    }
    return b;
  };

  // ---------------------------------------------------------------- formatting
  const pad = (n) => String(n).padStart(2, "0");
  Z.time = (iso) => {
    if (!iso) return "–";
    const d = new Date(iso);
    const today = new Date().toDateString() === d.toDateString();
    const clock = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    return today ? clock : d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + clock;
  };
  Z.timeEl = (iso) => Z.h("time", { datetime: iso || "", title: iso || "" }, Z.time(iso));
  Z.duration = (ms) => {
    if (ms === null || ms === undefined || isNaN(ms)) return "–";
    if (ms < 1000) return Math.max(0, Math.round(ms)) + " ms";
    const s = ms / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min " + Math.round(s % 60) + " s";
    const hours = Math.floor(m / 60);
    if (hours < 48) return hours + " h " + (m % 60) + " min";
    return Math.floor(hours / 24) + " d " + (hours % 24) + " h";
  };
  Z.between = (a, b) => (a ? (b ? new Date(b) : new Date()) - new Date(a) : null);
  Z.json = (value) => Z.h("pre.json", value === undefined ? "null" : JSON.stringify(value, null, 2));
  Z.badge = (status) => Z.h("span.badge.s-" + status, status);
  Z.TERMINAL = ["completed", "failed", "cancelled"];

  // What a non-terminal execution waits on, in words.
  Z.waitingWords = function waitingWords(w) {
    if (!w) return "";
    switch (w.kind) {
      case "timer":
        return "sleeping (" + w.step + ") until " + Z.time(w.dueAt);
      case "event":
        return "waiting for event `" + w.name + "`" + (w.deadline ? " until " + Z.time(w.deadline) : " (no deadline)");
      case "child":
        return "waiting for child " + w.executionId;
      case "retry":
        return "retrying " + w.step + " (attempt " + w.attempt + ") at " + Z.time(w.retryAt);
      case "lease":
        return "running on " + w.workerId + " since " + Z.time(w.since);
      case "pause":
        return "paused by rule " + w.ruleId + (w.expiresAt ? " until " + Z.time(w.expiresAt) : "");
      case "queue":
        return "queued on " + (w.queue || "its queue") + (w.reason ? " (" + w.reason + " limit)" : "");
      default:
        return w.kind;
    }
  };

  // JSON text from a textarea: {ok, value} or {ok: false, message}.
  Z.parseJson = function parseJson(text, emptyValue) {
    if (!text.trim()) return { ok: true, value: emptyValue };
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (e) {
      return { ok: false, message: e.message };
    }
  };
  // A JSON editor: a textarea that shows whether its text parses and reports it.
  Z.jsonEditor = function jsonEditor(initial, onValidity, emptyValue = null) {
    const note = Z.h("div.hint");
    const area = Z.h("textarea.code", { rows: 6, spellcheck: "false", "aria-label": "JSON" });
    area.value = initial;
    const check = () => {
      const r = Z.parseJson(area.value, emptyValue);
      area.classList.toggle("invalid", !r.ok);
      note.textContent = r.ok ? "valid JSON" : "invalid JSON: " + r.message;
      note.classList.toggle("error-text", !r.ok);
      if (onValidity) onValidity(r.ok);
      return r;
    };
    area.addEventListener("input", check);
    const wrap = Z.h("div.json-editor", area, note);
    wrap.read = check;
    wrap.area = area;
    setTimeout(check);
    return wrap;
  };

  // ---------------------------------------------------------------- notices
  Z.notify = function notify(text, kind = "ok") {
    const box = document.getElementById("notices");
    const n = Z.h("div.notice." + kind, { role: kind === "error" ? "alert" : "status" }, text);
    n.append(Z.h("button.close", { type: "button", "aria-label": "dismiss", onclick: () => n.remove() }, "×"));
    box.append(n);
    while (box.children.length > 4) box.firstChild.remove();
    if (kind !== "error") setTimeout(() => n.remove(), 6000);
    return n;
  };
  // An action's failure, as the server wrote it.
  Z.fail = (what, e) => Z.notify(what + " failed: " + (e.status ? e.status + " " : "") + e.message, "error");

  // ---------------------------------------------------------------- dialogs
  const dialog = () => document.getElementById("dialog");
  // Shows a modal form; resolves with what `submit` returns, or null if dismissed.
  // `submit` may throw to keep the dialog open (its message is shown in it).
  Z.modal = function modal(title, content, submitLabel, submit, danger) {
    return new Promise((resolve) => {
      const d = Z.clear(dialog());
      const error = Z.h("div.error-text.dialog-error");
      const ok = Z.h("button." + (danger ? "danger" : "primary"), { type: "submit" }, submitLabel);
      const cancel = Z.h("button", { type: "button", onclick: () => finish(null) }, "Cancel");
      const form = Z.h("form.dialog", { method: "dialog" }, Z.h("h2", title), content, error, Z.h("div.buttons", cancel, ok));
      let done = false;
      const finish = (value) => {
        if (done) return;
        done = true;
        d.close();
        resolve(value);
      };
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        ok.disabled = true;
        error.textContent = "";
        try {
          finish(await submit());
        } catch (e) {
          error.textContent = (e.status ? e.status + " " : "") + e.message;
        } finally {
          ok.disabled = false;
        }
      });
      d.onclose = () => finish(null);
      d.append(form);
      d.showModal();
    });
  };
  // A destructive action asks first; resolves true when confirmed.
  Z.confirm = (title, text, label) =>
    Z.modal(title, Z.h("p", text), label, async () => true, true).then((v) => v === true);

  // ---------------------------------------------------------------- the token form
  Z.askTokens = function askTokens(reason) {
    const fields = [];
    const inputs = {};
    for (const scope of ["api", "admin"]) {
      if (!needs[scope]) continue;
      inputs[scope] = Z.h("input", { type: "password", autocomplete: "off", name: scope + "Token", value: Z.token(scope) });
      fields.push(Z.h("label", scope === "api" ? "API token (ZART_API_TOKEN)" : "Admin token (ZART_ADMIN_TOKEN)", inputs[scope]));
    }
    const text = Z.h("p.hint", reason || "This server requires bearer tokens. They are kept in this tab's session storage only.");
    return Z.modal("Tokens", [text, fields], "Save", async () => {
      for (const [scope, input] of Object.entries(inputs)) Z.setToken(scope, input.value.trim());
      if (needs.api) await Z.get("/stats");
      return true;
    }).then(async (saved) => {
      await Z.probeAdmin();
      route();
      return saved;
    });
  };

  // ---------------------------------------------------------------- router
  // "#/executions/abc?run=2" -> {name: "detail", id: "abc", params: {run: "2"}}
  Z.parseHash = function parseHash() {
    const raw = location.hash.replace(/^#/, "") || "/";
    const [path, query] = raw.split("?");
    const params = Object.fromEntries(new URLSearchParams(query || ""));
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    if (parts.length === 0) return { name: "overview", params };
    if (parts[0] === "executions" && parts.length > 1) return { name: "detail", id: parts.slice(1).join("/"), params };
    return { name: parts[0], params };
  };
  // Replaces the hash's query (keeping the path) without adding a history entry
  // per keystroke.
  Z.setParams = function setParams(params) {
    const [path] = (location.hash || "#/").split("?");
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
    const text = q.toString();
    history.replaceState(null, "", path + (text ? "?" + text : ""));
  };

  let current = null;
  // Live refresh: a view's `refresh` runs every few seconds while the tab is
  // visible; the view keeps its own state (filters, page, open rows).
  const POLL_MS = 3000;
  let timer = null;
  function schedulePoll() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (current && current.view.refresh && !document.hidden && !document.getElementById("dialog").open) {
        try {
          await current.view.refresh(current.state);
        } catch (e) {
          console.warn("refresh failed:", e.message);
        }
      }
      schedulePoll();
    }, POLL_MS);
  }

  async function route() {
    const target = Z.parseHash();
    const view = Z.views[target.name] || Z.views.overview;
    for (const a of document.querySelectorAll("#nav a")) {
      const active = a.dataset.view === target.name || (target.name === "detail" && a.dataset.view === "executions");
      a.classList.toggle("active", active);
    }
    if (current && current.view.leave) current.view.leave(current.state);
    const main = Z.clear(Z.main());
    const state = { target, main };
    current = { view, state };
    try {
      await view.enter(state);
    } catch (e) {
      if (current.state !== state) return;
      main.append(Z.h("div.panel.error-text", "Could not load this page: " + (e.status ? e.status + " " : "") + e.message));
    }
    schedulePoll();
  }
  Z.route = route;
  Z.go = (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  };

  window.addEventListener("hashchange", route);
  document.addEventListener("DOMContentLoaded", async () => {
    const button = document.getElementById("tokens");
    if (Z.tokensNeeded()) {
      button.hidden = false;
      button.addEventListener("click", () => Z.askTokens());
    }
    const missing = (needs.api && !Z.token("api")) || (needs.admin && !needs.api && !Z.token("admin"));
    await Z.probeAdmin();
    if (missing) await Z.askTokens();
    else route();
  });
})();
