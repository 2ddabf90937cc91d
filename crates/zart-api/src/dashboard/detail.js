// Zart dashboard: one execution. Its state in words, the run's timeline (steps,
// sleeps, waits and children as bars; attempts and backoffs inside them), its
// JSON, runs, children, event inbox, operator actions, and the actions an operator
// can take.
"use strict";

(function detailView() {
  const { h, clear } = Z;
  const INSTANT_KINDS = ["now", "uuid", "random", "patch"];
  const INBOX_PAGE = 50;
  const INBOX_MAX = 1000;

  Z.views.detail = {
    async enter(state) {
      state.id = state.target.id;
      state.open = new Set();
      state.inboxLimit = INBOX_PAGE;
      state.main.append((state.head = h("div")), (state.body = h("div")));
      await this.refresh(state);
    },
    async refresh(state) {
      const run = state.target.params.run;
      let detail = null;
      let execution;
      if (Z.adminOpen) {
        detail = await Z.adminGet("/executions/" + Z.enc(state.id) + "/detail", { runId: run });
        execution = detail.execution;
      } else {
        execution = await Z.get("/executions/" + Z.enc(state.id));
      }
      const [children, inbox] = await Promise.all([
        Z.get("/executions", { search: state.id + "/", limit: 100, sortOrder: "asc" }),
        Z.get("/executions/" + Z.enc(state.id) + "/events", { limit: state.inboxLimit }),
      ]);
      state.execution = execution;
      state.detail = detail;
      renderHead(state, execution, detail);
      renderBody(state, execution, detail, children.filter((c) => c.parentId === state.id), inbox);
    },
  };

  // ---------------------------------------------------------------- header
  function renderHead(state, e, detail) {
    const done = Z.TERMINAL.includes(e.status);
    const buttons = h("div.actions");
    if (!done) {
      buttons.append(h("button", { type: "button", onclick: () => deliverEvent(state) }, "Deliver event"));
      buttons.append(Z.adminButton("Pause", () => pauseExecution(state)));
      if (e.waitingFor && e.waitingFor.kind === "pause") {
        buttons.append(Z.adminButton("Resume (delete rule)", () => resumeRule(state, e.waitingFor.ruleId)));
      }
      buttons.append(h("button.danger", { type: "button", onclick: () => cancel(state) }, "Cancel"));
    } else {
      buttons.append(Z.adminButton("Restart", () => restart(state)));
      buttons.append(Z.adminButton("Rerun steps…", () => rerun(state)));
    }
    const runs = detail ? runSelector(state, detail) : null;
    clear(state.head).append(
      h("div.crumbs", h("a", { href: "#/executions" }, "Executions"), " / "),
      h("div.title", h("h1.id", e.durableExecutionId), Z.badge(e.status), runs, buttons),
      h("p.waiting-words", e.waitingFor ? Z.waitingWords(e.waitingFor) : done ? e.status + " " + Z.time(e.completedAt) : "due to run"));
  }

  function runSelector(state, detail) {
    const select = h("select", { "aria-label": "run", name: "run", onchange: (ev) => {
      state.target.params.run = ev.target.value;
      Z.setParams({ run: ev.target.value });
      Z.views.detail.refresh(state).catch((err) => Z.fail("Loading the run", err));
    } });
    for (const r of detail.runs) {
      const by = r.triggeredBy ? " by " + r.triggeredBy : "";
      select.append(h("option", { value: String(r.runIndex) }, "run " + r.runIndex + " · " + r.trigger + by + " · " + r.status));
    }
    select.value = state.target.params.run || String(detail.execution.runIndex);
    return h("label.inline", "Run", select);
  }

  // ---------------------------------------------------------------- body
  function renderBody(state, e, detail, children, inbox) {
    const facts = h("dl.facts",
      fact("Task", e.name),
      fact("Scheduled", Z.timeEl(e.scheduledAt)),
      fact("Started", Z.timeEl(e.startedAt)),
      fact("Completed", Z.timeEl(e.completedAt)),
      fact("Duration", Z.duration(Z.between(e.startedAt, e.completedAt))),
      fact("Updated", Z.timeEl(e.updatedAt)),
      fact("Version", e.version),
      e.deadlineAt ? fact("Deadline", Z.timeEl(e.deadlineAt)) : null,
      e.parentId ? fact("Parent", h("a", { href: "#/executions/" + Z.enc(e.parentId) }, e.parentId)) : null);
    const parts = [h("section.panel", facts)];
    if (e.error) parts.push(h("section.panel.failed", h("h2", "Error"), Z.json(e.error)));
    if (detail) parts.push(timeline(state, e, detail));
    else parts.push(h("section.panel.muted", "The timeline of steps needs the admin token."));
    if (children.length) {
      parts.push(h("section.panel", h("h2", "Children"), h("ul.children",
        children.map((c) => h("li", h("a", { href: "#/executions/" + Z.enc(c.durableExecutionId) }, c.durableExecutionId), " ", Z.badge(c.status))))));
    }
    const run = detail ? detail.runs.find((r) => String(r.runIndex) === (state.target.params.run || String(e.runIndex))) : null;
    parts.push(h("div.two",
      h("section.panel", h("h2", "Payload" + (run ? " (run " + run.runIndex + ")" : "")), Z.json(run ? run.payload : e.payload)),
      h("section.panel", h("h2", "Result"), Z.json(run ? run.result : e.result))));
    parts.push(inboxPanel(state, inbox));
    if (detail && detail.actions.length) parts.push(actionLog(detail.actions));
    clear(state.body).append(...parts);
  }

  // The inbox, newest first: pending events wait for a wait on their name; consumed
  // ones name the wait step that took them. "Show older" grows the page (kept across
  // live refreshes) up to the server's maximum.
  function inboxPanel(state, inbox) {
    const pending = inbox.events.filter((ev) => ev.status === "pending").length;
    const title = "Event inbox" + (inbox.events.length ? " (" + pending + " pending)" : "");
    if (!inbox.events.length) return h("section.panel.inbox", h("h2", title), h("p.muted", "No events delivered."));
    const rows = inbox.events.map((ev) => h("tr",
      h("td.num", String(ev.sequence)),
      h("td.id", ev.eventName),
      h("td", Z.badge(ev.status)),
      h("td", Z.timeEl(ev.receivedAt)),
      h("td", ev.consumedBy ? [ev.consumedBy, " ", Z.timeEl(ev.consumedAt)] : "–"),
      h("td.id", ev.eventId || "–"),
      h("td", h("pre.json.inline", JSON.stringify(ev.payload)))));
    const more = inbox.nextBefore !== null && state.inboxLimit < INBOX_MAX
      ? h("div.pager", h("button", { type: "button", onclick: () => {
          state.inboxLimit = Math.min(INBOX_MAX, state.inboxLimit + INBOX_PAGE);
          Z.views.detail.refresh(state).catch((err) => Z.fail("Loading older events", err));
        } }, "Show older events"))
      : null;
    return h("section.panel.inbox", h("h2", title),
      h("table.list", h("thead", h("tr", ["Seq", "Event", "Status", "Received", "Consumed by", "Key", "Payload"].map((t) => h("th", t)))), h("tbody", rows)),
      more);
  }
  const fact = (label, value) => [h("dt", label), h("dd", value)];

  function actionLog(actions) {
    const rows = actions.map((a) => h("tr",
      h("td", a.kind), h("td", a.stepName || (a.effectiveRerun.length ? a.effectiveRerun.join(", ") : "–")),
      h("td", "run " + a.runIndex), h("td", a.triggeredBy), h("td", Z.timeEl(a.triggeredAt)),
      h("td", a.potentiallyStale.map((s) => s.preservedStep + " may depend on " + s.possiblyDependsOn.join(", ")).join("; "))));
    return h("section.panel", h("h2", "Operator actions"),
      h("table.list", h("thead", h("tr", ["Action", "Steps", "Run", "By", "When", "Potentially stale"].map((t) => h("th", t)))), h("tbody", rows)));
  }

  // ---------------------------------------------------------------- timeline
  function span(step) {
    const first = step.attempts.length ? step.attempts[0].startedAt : step.scheduledAt;
    const start = new Date(first < step.scheduledAt ? first : step.scheduledAt).getTime();
    let end;
    let planned = false;
    if (step.completedAt) end = new Date(step.completedAt).getTime();
    else if (step.wakeAt && step.status !== "dead") {
      end = new Date(step.wakeAt).getTime();
      planned = true;
    } else end = step.status === "dead" ? lastAttemptEnd(step) : Date.now();
    return { start, end: Math.max(end, start), planned };
  }
  const lastAttemptEnd = (step) => {
    const a = step.attempts[step.attempts.length - 1];
    return new Date((a && (a.completedAt || a.startedAt)) || step.scheduledAt).getTime();
  };

  function timeline(state, e, detail) {
    const steps = detail.steps.slice().sort((a, b) => a.position - b.position);
    const panel = h("section.panel.timeline-panel", h("h2", "Timeline"));
    if (!steps.length) {
      panel.append(h("p.muted", "No step recorded in this run yet."));
      return panel;
    }
    const spans = steps.map(span);
    const t0 = Math.min(...spans.map((s) => s.start));
    const t1 = Math.max(...spans.map((s) => s.end), Z.TERMINAL.includes(e.status) ? 0 : Date.now());
    const width = Math.max(1, t1 - t0);
    const pct = (t) => (100 * (t - t0)) / width;
    const rows = h("div.timeline");
    rows.append(h("div.scale", h("span", Z.time(new Date(t0).toISOString())), h("span", Z.duration(width)), h("span", Z.time(new Date(t1).toISOString()))));
    steps.forEach((step, i) => rows.append(stepRow(state, e, step, spans[i], pct)));
    panel.append(rows, h("div.legend", h("span.key.completed", "attempt ok"), h("span.key.failed", "failed attempt"),
      h("span.key.running", "running"), h("span.key.backoff", "backoff / waiting"), h("span.key.planned", "until due")));
    return panel;
  }

  function stepRow(state, e, step, s, pct) {
    const label = step.name + (step.occurrence ? " #" + step.occurrence : "");
    const track = h("div.track");
    const bar = h("div.span.k-" + step.kind + ".st-" + step.status + (s.planned ? ".planned" : ""));
    bar.style.left = pct(s.start) + "%";
    bar.style.width = Math.max(0.4, pct(s.end) - pct(s.start)) + "%";
    const total = Math.max(1, s.end - s.start);
    for (const a of step.attempts) {
      const seg = h("span.attempt.a-" + a.status, { title: "attempt " + a.attemptNumber + ": " + a.status + (a.error ? " – " + a.error : "") });
      const as = new Date(a.startedAt).getTime();
      const ae = a.completedAt ? new Date(a.completedAt).getTime() : Date.now();
      seg.style.left = (100 * (as - s.start)) / total + "%";
      seg.style.width = Math.max(1, (100 * (ae - as)) / total) + "%";
      bar.append(seg);
    }
    track.append(bar);
    const attempts = step.attemptCount || step.attempts.length;
    const retried = attempts > 1 ? h("span.retries", attempts + " attempts") : null;
    const duration = s.planned ? "until " + Z.time(new Date(s.end).toISOString()) : Z.duration(s.end - s.start);
    const instant = INSTANT_KINDS.includes(step.kind);
    const row = h("div.step-row" + (instant ? ".instant" : ""), { dataset: { step: step.stepId, status: step.status } },
      h("button.step-label", { type: "button", "aria-expanded": String(state.open.has(step.stepId)), onclick: () => {
        if (state.open.has(step.stepId)) state.open.delete(step.stepId);
        else state.open.add(step.stepId);
        row.replaceWith(stepRow(state, e, step, s, pct));
      } }, h("span.name", label), h("span.kind", step.kind)),
      Z.badge(step.status), track, h("span.dur", duration), retried);
    if (step.status === "dead" && step.kind === "step") {
      row.append(Z.adminButton("Retry step", () => retryStep(state, step.name), "small"));
    }
    if (state.open.has(step.stepId)) row.append(stepDetail(step));
    return row;
  }

  function stepDetail(step) {
    const box = h("div.step-detail");
    const facts = h("dl.facts",
      fact("Step id", step.stepId), fact("Scheduled", Z.timeEl(step.scheduledAt)), fact("Completed", Z.timeEl(step.completedAt)),
      step.wakeAt ? fact("Due", Z.timeEl(step.wakeAt)) : null, fact("Retryable", String(step.retryable)));
    box.append(facts);
    if (step.kind === "spawn" && typeof step.result === "string") {
      box.append(h("p", "child: ", h("a", { href: "#/executions/" + Z.enc(step.result) }, step.result)));
    }
    if (step.lastError) box.append(h("p.error-text", "last error: " + step.lastError));
    if (step.attempts.length) {
      box.append(h("table.list.attempts", h("thead", h("tr", ["#", "Status", "Started", "Ended", "Took", "Error"].map((t) => h("th", t)))),
        h("tbody", step.attempts.map((a) => h("tr",
          h("td", a.attemptNumber), h("td", Z.badge(a.status)), h("td", Z.timeEl(a.startedAt)), h("td", Z.timeEl(a.completedAt)),
          h("td", Z.duration(Z.between(a.startedAt, a.completedAt))), h("td.error-text", a.error || ""))))));
    }
    box.append(h("div.hint", "result"), Z.json(step.result));
    return box;
  }

  // ---------------------------------------------------------------- actions
  const base = (state) => "/executions/" + Z.enc(state.id);
  const reload = (state) => Z.views.detail.refresh(state).catch((e) => Z.fail("Reloading", e));

  async function cancel(state) {
    if (!(await Z.confirm("Cancel " + state.id + "?", "It runs no further step, and its unfinished children are cancelled too. This cannot be undone.", "Cancel execution"))) return;
    try {
      await Z.post(base(state) + "/cancel");
      Z.notify("Cancelled " + state.id);
    } catch (e) {
      Z.fail("Cancel", e);
    }
    reload(state);
  }

  async function deliverEvent(state) {
    const w = state.execution.waitingFor;
    const name = h("input", { name: "eventName", required: true, value: w && w.kind === "event" ? w.name : "" });
    const key = h("input", { name: "idempotencyKey", placeholder: "optional" });
    let valid = true;
    const editor = Z.jsonEditor("{}", (ok) => (valid = ok));
    const sent = await Z.modal("Deliver an event to " + state.id,
      [h("label", "Event name", name), h("label", "Payload (JSON)", editor), h("label", "Idempotency key", key)], "Deliver",
      async () => {
        const r = editor.read();
        if (!valid || !r.ok) throw new Error("the payload is not valid JSON: " + r.message);
        const headers = key.value.trim() ? { "Idempotency-Key": key.value.trim() } : {};
        return Z.post("/events/" + Z.enc(state.id) + "/" + Z.enc(name.value.trim()), r.value, { headers });
      });
    if (sent) Z.notify("Event " + sent.eventName + " stored as #" + sent.sequence + (sent.duplicate ? " (duplicate: nothing stored)" : ""));
    reload(state);
  }

  async function retryStep(state, name) {
    if (!(await Z.confirm("Retry " + name + "?", "The dead step gets a fresh attempt budget and the execution resumes at it; completed steps are kept.", "Retry step"))) return;
    try {
      await Z.adminPost(base(state) + "/retry-step", { stepName: name, triggeredBy: "dashboard" });
      Z.notify("Retrying " + name);
    } catch (e) {
      Z.fail("Retry", e);
    }
    reload(state);
  }

  async function restart(state) {
    const editor = Z.jsonEditor(JSON.stringify(state.execution.payload, null, 2));
    const done = await Z.modal("Restart " + state.id + "?",
      [h("p", "A new run starts from scratch with this payload; earlier runs stay readable."), h("label", "Payload (JSON)", editor)],
      "Restart", async () => {
        const r = editor.read();
        if (!r.ok) throw new Error("the payload is not valid JSON: " + r.message);
        return Z.adminPost(base(state) + "/restart", { payload: r.value, triggeredBy: "dashboard" });
      }, true);
    if (done) {
      Z.notify("Restarted as run " + done.runIndex);
      state.target.params.run = "";
      Z.setParams({});
    }
    reload(state);
  }

  async function rerun(state) {
    const steps = (state.detail ? state.detail.steps : []).filter((s) => s.kind === "step" || s.status === "dead");
    const names = [...new Set(steps.map((s) => s.name))];
    const boxes = names.map((n) => {
      const dead = steps.some((s) => s.name === n && s.status === "dead");
      return { name: n, box: h("input", { type: "checkbox", name: "rerun", value: n, checked: dead }) };
    });
    const list = boxes.length ? h("div.checks", boxes.map((b) => h("label.check", b.box, b.name))) : h("p.muted", "No step to choose: every dead step reruns.");
    const done = await Z.modal("Rerun steps of " + state.id,
      [h("p", "A new run replays the kept steps' recorded results and runs the chosen ones (and every dead step) again."), list],
      "Start rerun", async () =>
        Z.adminPost(base(state) + "/rerun", { rerunSteps: boxes.filter((b) => b.box.checked).map((b) => b.name), preserveSteps: [], triggeredBy: "dashboard" }), true);
    if (done) {
      const stale = (done.potentiallyStale || []).map((s) => s.preservedStep).join(", ");
      Z.notify("Rerun started as run " + done.newRunNumber + ": " + (done.effectiveRerun.join(", ") || "no step") + (stale ? "; potentially stale: " + stale : ""));
      state.target.params.run = "";
      Z.setParams({});
    }
    reload(state);
  }

  async function pauseExecution(state) {
    const pattern = h("input", { name: "stepPattern", placeholder: "any step (or a glob such as charge*)" });
    const reason = h("input", { name: "reason", placeholder: "optional" });
    const rule = await Z.modal("Pause " + state.id,
      [h("p", "It parks before its next matching step and holds no worker until the rule is deleted."),
        h("label", "Step pattern", pattern), h("label", "Reason", reason)], "Pause",
      async () => Z.adminPost("/pause", { executionId: state.id, stepPattern: pattern.value.trim() || undefined, reason: reason.value.trim() || undefined, triggeredBy: "dashboard" }));
    if (rule) Z.notify("Pause rule " + rule.ruleId + " created");
    reload(state);
  }

  async function resumeRule(state, ruleId) {
    if (!(await Z.confirm("Delete rule " + ruleId + "?", "Every execution the rule holds resumes.", "Delete rule"))) return;
    try {
      await Z.adminDelete("/pause/" + Z.enc(ruleId));
      Z.notify("Rule " + ruleId + " deleted");
    } catch (e) {
      Z.fail("Resume", e);
    }
    reload(state);
  }
})();
