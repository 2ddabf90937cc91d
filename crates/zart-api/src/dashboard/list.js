// Zart dashboard: the overview and the executions list.
"use strict";

(function listViews() {
  const { h, clear } = Z;
  const STATUSES = ["scheduled", "running", "completed", "failed", "cancelled"];
  const SORTS = { scheduledAt: "Scheduled", status: "Status", taskName: "Task" };
  const PAGE_SIZES = ["20", "50", "100"];

  // ---------------------------------------------------------------- executions
  // The filters, sort and page live in the hash (#/executions?status=failed&page=2),
  // so a reload, a bookmark or the back button keeps the user's place, and the
  // live refresh re-reads the same page.
  const defaults = { status: "", task: "", search: "", from: "", to: "", sort: "scheduledAt", order: "desc", page: "0", size: "20" };

  function readParams(raw) {
    const p = Object.assign({}, defaults, raw);
    if (!STATUSES.includes(p.status)) p.status = "";
    if (!SORTS[p.sort]) p.sort = "scheduledAt";
    if (p.order !== "asc") p.order = "desc";
    if (!PAGE_SIZES.includes(p.size)) p.size = "20";
    p.page = String(Math.max(0, parseInt(p.page, 10) || 0));
    return p;
  }
  function storeParams(p) {
    const kept = {};
    for (const [k, v] of Object.entries(p)) if (v !== defaults[k]) kept[k] = v;
    Z.setParams(kept);
  }
  // datetime-local text <-> RFC 3339, in the browser's time zone.
  const toLocalInput = (iso) => {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return "";
    const off = d.getTimezoneOffset() * 60000;
    return new Date(d - off).toISOString().slice(0, 16);
  };
  const fromLocalInput = (text) => (text ? new Date(text).toISOString() : "");

  Z.views.executions = {
    async enter(state) {
      state.p = readParams(state.target.params);
      const tasks = await Z.get("/tasks").catch(() => ({ tasks: null }));
      state.main.append(h("h1", "Executions"), filterForm(state, tasks.tasks), (state.summary = h("div.summary")));
      state.table = h("div.table-wrap");
      state.pager = h("div.pager");
      state.main.append(state.table, state.pager);
      await this.refresh(state);
    },
    async refresh(state) {
      const p = state.p;
      const limit = parseInt(p.size, 10);
      const offset = parseInt(p.page, 10) * limit;
      // One row more than the page tells whether there is a next page.
      const query = {
        status: p.status, taskName: p.task, search: p.search, from: p.from, to: p.to,
        sortBy: p.sort, sortOrder: p.order, limit: limit + 1, offset,
      };
      const seq = (state.seq = (state.seq || 0) + 1);
      const [rows, stats] = await Promise.all([Z.get("/executions", query), Z.get("/stats")]);
      if (seq !== state.seq) return; // a newer request (new filter) superseded this one
      const more = rows.length > limit;
      renderTable(state, rows.slice(0, limit));
      renderPager(state, offset, Math.min(rows.length, limit), more, stats);
    },
  };

  function filterForm(state, tasks) {
    const p = state.p;
    const apply = (change) => {
      Object.assign(p, change, change.page === undefined ? { page: "0" } : {});
      storeParams(p);
      Z.views.executions.refresh(state).catch((e) => Z.fail("Loading executions", e));
    };
    const status = h("select", { name: "status", "aria-label": "status", onchange: (e) => apply({ status: e.target.value }) },
      h("option", { value: "" }, "any status"),
      STATUSES.map((s) => h("option", { value: s, selected: p.status === s }, s)));
    status.value = p.status;
    let task;
    if (tasks) {
      task = h("select", { name: "task", "aria-label": "task", onchange: (e) => apply({ task: e.target.value }) },
        h("option", { value: "" }, "any task"),
        tasks.map((t) => h("option", { value: t.name }, t.name)));
      if (p.task && !tasks.some((t) => t.name === p.task)) task.append(h("option", { value: p.task }, p.task));
      task.value = p.task;
    } else {
      task = h("input", { name: "task", placeholder: "task name", value: p.task, onchange: (e) => apply({ task: e.target.value.trim() }) });
    }
    let debounce = null;
    const search = h("input", {
      type: "search", name: "search", placeholder: "id contains…", value: p.search, "aria-label": "id search",
      oninput: (e) => {
        clearTimeout(debounce);
        debounce = setTimeout(() => apply({ search: e.target.value.trim() }), 300);
      },
    });
    const from = h("input", { type: "datetime-local", name: "from", value: toLocalInput(p.from), "aria-label": "from",
      onchange: (e) => apply({ from: fromLocalInput(e.target.value) }) });
    const to = h("input", { type: "datetime-local", name: "to", value: toLocalInput(p.to), "aria-label": "to",
      onchange: (e) => apply({ to: fromLocalInput(e.target.value) }) });
    const size = h("select", { name: "size", "aria-label": "page size", onchange: (e) => apply({ size: e.target.value }) },
      PAGE_SIZES.map((s) => h("option", { value: s }, s + " per page")));
    size.value = p.size;
    const reset = h("button.ghost", { type: "button", onclick: () => {
      Object.assign(p, defaults);
      storeParams(p);
      Z.route();
    } }, "Reset");
    state.applyFilter = apply;
    return h("form.filters", { onsubmit: (e) => e.preventDefault() },
      status, task, search, h("label.inline", "from", from), h("label.inline", "to", to), size, reset);
  }

  function sortHeader(state, key) {
    const p = state.p;
    const active = p.sort === key;
    const arrow = active ? (p.order === "asc" ? " ▲" : " ▼") : "";
    const next = active && p.order === "desc" ? "asc" : "desc";
    return h("th", h("button.sort", { type: "button", "aria-sort": active ? p.order + "ending" : "none",
      onclick: () => state.applyFilter({ sort: key, order: next }) }, SORTS[key] + arrow));
  }

  function renderTable(state, rows) {
    const head = h("tr", h("th", "Execution"), sortHeader(state, "taskName"), sortHeader(state, "status"),
      h("th", "Waiting for"), sortHeader(state, "scheduledAt"), h("th", "Duration"), h("th", "Run"));
    const body = h("tbody");
    for (const e of rows) {
      const link = "#/executions/" + Z.enc(e.durableExecutionId);
      const done = Z.TERMINAL.includes(e.status);
      body.append(h("tr.row", { dataset: { id: e.durableExecutionId }, onclick: (ev) => {
        if (ev.target.tagName !== "A") location.hash = link;
      } },
        h("td.id", h("a", { href: link }, e.durableExecutionId)),
        h("td", e.name),
        h("td", Z.badge(e.status)),
        h("td.waiting", e.error ? h("span.error-text", e.error.message) : Z.waitingWords(e.waitingFor)),
        h("td", Z.timeEl(e.scheduledAt)),
        h("td", done ? Z.duration(Z.between(e.startedAt || e.scheduledAt, e.completedAt)) : "–"),
        h("td.num", e.runIndex)));
    }
    if (!rows.length) body.append(h("tr", h("td.empty", { colspan: 7 }, "No executions match.")));
    clear(state.table).append(h("table.list", h("thead", head), body));
  }

  function renderPager(state, offset, count, more, stats) {
    const p = state.p;
    const page = parseInt(p.page, 10);
    const filtered = p.task || p.search || p.from || p.to;
    const total = filtered ? null : p.status ? stats[p.status] : STATUSES.reduce((n, s) => n + stats[s], 0);
    const range = count ? offset + 1 + "–" + (offset + count) : "0";
    clear(state.summary).append(
      "Showing " + range + (total !== null ? " of " + total.toLocaleString() : ""), " · ", h("span.live", "● live"));
    clear(state.pager).append(
      h("button", { type: "button", disabled: page === 0, onclick: () => state.applyFilter({ page: String(page - 1) }) }, "← Newer"),
      h("span", "page " + (page + 1)),
      h("button", { type: "button", disabled: !more, onclick: () => state.applyFilter({ page: String(page + 1) }) }, "Older →"));
  }

  // ---------------------------------------------------------------- overview
  Z.views.overview = {
    async enter(state) {
      state.main.append(h("h1", "Overview"));
      state.cards = h("div.cards");
      state.activity = h("section.panel");
      state.failures = h("section.panel");
      state.admin = h("div.two");
      state.main.append(state.cards, state.activity, state.failures, state.admin);
      await this.refresh(state);
    },
    async refresh(state) {
      const [stats, overview, failures] = await Promise.all([
        Z.get("/stats"),
        Z.get("/overview", { windowSecs: 3600, bucketSecs: 300 }),
        Z.get("/executions", { status: "failed", limit: 5 }),
      ]);
      renderCards(state, stats);
      renderActivity(state, overview);
      renderFailures(state, failures);
      await renderAdmin(state);
    },
  };

  function renderCards(state, stats) {
    clear(state.cards);
    for (const s of STATUSES) {
      state.cards.append(h("a.card.s-" + s, { href: "#/executions?status=" + s, dataset: { status: s } },
        h("span.count", stats[s].toLocaleString()), h("span.label", s)));
    }
  }

  function renderActivity(state, o) {
    const rate = o.failureRate === null ? "–" : (o.failureRate * 100).toFixed(1) + " %";
    const peak = Math.max(1, ...o.buckets.map((b) => Math.max(b.started, b.completed + b.failed + b.cancelled)));
    const chart = h("div.chart", { role: "img", "aria-label": "executions started and finished per " + o.bucketSecs / 60 + " minutes" });
    for (const b of o.buckets) {
      const bar = (cls, n) => {
        const el = h("span.bar." + cls, { title: n + " " + cls });
        el.style.height = (100 * n) / peak + "%";
        return el;
      };
      chart.append(h("div.bucket", { title: Z.time(b.start) },
        bar("started", b.started), bar("completed", b.completed), bar("failed", b.failed)));
    }
    clear(state.activity).append(
      h("h2", "Last hour"),
      h("div.metrics",
        metric("started", o.started), metric("completed", o.completed), metric("failed", o.failed),
        metric("throughput", o.throughputPerMinute.toFixed(1) + " / min"), metric("failure rate", rate)),
      chart,
      h("div.legend", h("span.key.started", "started"), h("span.key.completed", "completed"), h("span.key.failed", "failed"),
        h("span.hint", " per " + o.bucketSecs / 60 + " min, from " + Z.time(o.windowStart))));
  }
  const metric = (label, value) => h("div.metric", { dataset: { metric: label } }, h("span.value", typeof value === "number" ? value.toLocaleString() : value), h("span.label", label));

  function renderFailures(state, failures) {
    const list = h("ul.failures");
    for (const e of failures) {
      list.append(h("li",
        h("a", { href: "#/executions/" + Z.enc(e.durableExecutionId) }, e.durableExecutionId),
        " ", h("span.muted", e.name), " ", Z.timeEl(e.completedAt),
        h("div.error-text", e.error ? (e.error.step ? e.error.step + ": " : "") + e.error.message : "")));
    }
    if (!failures.length) list.append(h("li.muted", "No failed executions."));
    clear(state.failures).append(h("h2", "Recent failures"), list,
      h("a.more", { href: "#/executions?status=failed" }, "all failed executions →"));
  }

  async function renderAdmin(state) {
    if (!Z.adminOpen) {
      clear(state.admin).append(h("section.panel.muted", "Pause rules and schedules need the admin token."));
      return;
    }
    const [rules, schedules] = await Promise.all([Z.adminGet("/pause"), Z.adminGet("/schedules")]);
    const ruleList = h("ul");
    for (const r of rules) ruleList.append(h("li", h("code", r.ruleId), " ", Z.ruleWords(r)));
    if (!rules.length) ruleList.append(h("li.muted", "No active pause rule."));
    const scheduleList = h("ul");
    for (const s of schedules) {
      scheduleList.append(h("li", h("code", s.scheduleId), " → ", s.taskName, " ",
        s.paused ? Z.badge("paused") : h("span.muted", "next " + Z.time(s.nextFireTimes[0]))));
    }
    if (!schedules.length) scheduleList.append(h("li.muted", "No schedule."));
    clear(state.admin).append(
      h("section.panel", h("h2", h("a", { href: "#/pauses" }, "Active pause rules")), ruleList),
      h("section.panel", h("h2", h("a", { href: "#/schedules" }, "Schedules")), scheduleList));
  }

  // A pause rule's selectors, in words.
  Z.ruleWords = (r) => {
    const parts = [];
    if (r.taskName) parts.push("task " + r.taskName);
    if (r.executionId) parts.push("execution " + r.executionId);
    if (r.stepPattern) parts.push("steps " + r.stepPattern);
    return "holds " + parts.join(", ") + (r.expiresAt ? " until " + Z.time(r.expiresAt) : "") + (r.reason ? " (" + r.reason + ")" : "");
  };
})();
