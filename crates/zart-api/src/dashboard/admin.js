// Zart dashboard: starting an execution, pause rules and schedules.
"use strict";

(function adminViews() {
  const { h, clear } = Z;

  // ---------------------------------------------------------------- start
  Z.views.start = {
    async enter(state) {
      const { tasks } = await Z.get("/tasks");
      const task = tasks
        ? h("select", { name: "taskName", required: true }, tasks.map((t) => h("option", { value: t.name }, t.name)))
        : h("input", { name: "taskName", required: true, placeholder: "task name" });
      if (tasks && state.target.params.task) task.value = state.target.params.task;
      const id = h("input", { name: "executionId", placeholder: "optional: a UUID is generated" });
      const submit = h("button.primary", { type: "submit" }, "Start");
      const editor = Z.jsonEditor("{}", (ok) => (submit.disabled = !ok));
      const error = h("div.error-text", { role: "alert" });
      const form = h("form.panel.start", {
        onsubmit: async (ev) => {
          ev.preventDefault();
          error.textContent = "";
          const payload = editor.read();
          if (!payload.ok) {
            error.textContent = "The payload is not valid JSON: " + payload.message;
            return;
          }
          const body = { taskName: task.value.trim(), payload: payload.value };
          if (id.value.trim()) body.executionId = id.value.trim();
          submit.disabled = true;
          try {
            const e = await Z.post("/executions", body);
            Z.notify("Started " + e.durableExecutionId);
            location.hash = "#/executions/" + Z.enc(e.durableExecutionId);
          } catch (e) {
            error.textContent = (e.status ? e.status + " " : "") + e.message;
          } finally {
            submit.disabled = false;
          }
        },
      },
      h("label", "Task", task), h("label", "Execution id", id), h("label", "Payload (JSON)", editor), error, h("div.buttons", submit));
      state.main.append(h("h1", "Start an execution"), form);
    },
  };

  // ---------------------------------------------------------------- pause rules
  Z.views.pauses = {
    async enter(state) {
      state.main.append(h("h1", "Pause rules"));
      if (!Z.adminOpen) {
        state.main.append(h("p.panel.muted", "Pause rules need the admin token."));
        return;
      }
      state.main.append(pauseForm(state), (state.list = h("section.panel")));
      await this.refresh(state);
    },
    async refresh(state) {
      if (!state.list) return;
      const rules = await Z.adminGet("/pause");
      const rows = rules.map((r) => h("tr", { dataset: { rule: r.ruleId } },
        h("td", h("code", r.ruleId)), h("td", r.taskName || "–"), h("td", r.executionId ? h("a", { href: "#/executions/" + Z.enc(r.executionId) }, r.executionId) : "–"),
        h("td", r.stepPattern || "any"), h("td", Z.timeEl(r.createdAt)), h("td", r.expiresAt ? Z.timeEl(r.expiresAt) : "never"),
        h("td", r.createdBy), h("td", r.reason || ""),
        h("td", Z.adminButton("Resume", () => deleteRule(state, r.ruleId), "danger"))));
      if (!rows.length) rows.push(h("tr", h("td.empty", { colspan: 9 }, "No active rule.")));
      clear(state.list).append(h("h2", "Active rules"), h("table.list",
        h("thead", h("tr", ["Rule", "Task", "Execution", "Steps", "Created", "Expires", "By", "Reason", ""].map((t) => h("th", t)))),
        h("tbody", rows)));
    },
  };

  function pauseForm(state) {
    const task = h("input", { name: "taskName", placeholder: "task name" });
    const execution = h("input", { name: "executionId", placeholder: "execution id" });
    const pattern = h("input", { name: "stepPattern", placeholder: "glob, e.g. charge*" });
    const minutes = h("input", { name: "expiresInMinutes", type: "number", min: "1", placeholder: "never" });
    const reason = h("input", { name: "reason", placeholder: "optional" });
    const error = h("div.error-text", { role: "alert" });
    return h("form.panel.inline-form", {
      onsubmit: async (ev) => {
        ev.preventDefault();
        error.textContent = "";
        const body = { triggeredBy: "dashboard" };
        const set = (k, input) => {
          if (input.value.trim()) body[k] = input.value.trim();
        };
        set("taskName", task);
        set("executionId", execution);
        set("stepPattern", pattern);
        set("reason", reason);
        if (minutes.value) body.expiresAt = new Date(Date.now() + Number(minutes.value) * 60000).toISOString();
        try {
          const rule = await Z.adminPost("/pause", body);
          Z.notify("Pause rule " + rule.ruleId + " created");
          ev.target.reset();
          await Z.views.pauses.refresh(state);
        } catch (e) {
          error.textContent = (e.status ? e.status + " " : "") + e.message;
        }
      },
    },
    h("h2", "New rule"), h("p.hint", "Matching executions park before their next matching step. Give at least one selector."),
    h("div.row", h("label", "Task", task), h("label", "Execution", execution), h("label", "Step pattern", pattern),
      h("label", "Expires in (min)", minutes), h("label", "Reason", reason)),
    error, h("div.buttons", h("button.primary", { type: "submit" }, "Create rule")));
  }

  async function deleteRule(state, ruleId) {
    if (!(await Z.confirm("Resume rule " + ruleId + "?", "The rule is deleted; every execution it holds resumes.", "Delete rule"))) return;
    try {
      await Z.adminDelete("/pause/" + Z.enc(ruleId));
      Z.notify("Rule " + ruleId + " deleted");
    } catch (e) {
      Z.fail("Resume", e);
    }
    await Z.views.pauses.refresh(state);
  }

  // ---------------------------------------------------------------- schedules
  Z.views.schedules = {
    async enter(state) {
      state.main.append(h("h1", "Schedules"));
      if (!Z.adminOpen) {
        state.main.append(h("p.panel.muted", "Schedules need the admin token."));
        return;
      }
      state.main.append((state.list = h("section.panel")));
      await this.refresh(state);
    },
    async refresh(state) {
      if (!state.list) return;
      const schedules = await Z.adminGet("/schedules");
      const rows = schedules.map((s) => h("tr", { dataset: { schedule: s.scheduleId } },
        h("td", h("code", s.scheduleId)), h("td", s.taskName),
        h("td", s.cron ? s.cron + " (" + (s.timezone || "UTC") + ")" : "every " + Z.duration(s.intervalSecs * 1000)),
        h("td", s.paused ? Z.badge("paused") : Z.badge("active")),
        h("td", s.nextFireTimes.length ? Z.timeEl(s.nextFireTimes[0]) : "–"),
        h("td", s.lastExecutionId ? h("a", { href: "#/executions/" + Z.enc(s.lastExecutionId) }, Z.time(s.lastFiredAt)) : "–"),
        h("td", s.overlap + " / " + s.catchUp),
        h("td.actions",
          s.paused ? Z.adminButton("Resume", () => act(state, s, "resume")) : Z.adminButton("Pause", () => act(state, s, "pause")),
          Z.adminButton("Trigger", () => act(state, s, "trigger")),
          Z.adminButton("Delete", () => remove(state, s), "danger"))));
      if (!rows.length) rows.push(h("tr", h("td.empty", { colspan: 8 }, "No schedule.")));
      clear(state.list).append(h("table.list",
        h("thead", h("tr", ["Schedule", "Task", "When", "State", "Next", "Last firing", "Overlap / catch-up", ""].map((t) => h("th", t)))),
        h("tbody", rows)));
    },
  };

  async function act(state, s, action) {
    if (action === "trigger" && !(await Z.confirm("Trigger " + s.scheduleId + " now?", "One firing starts an execution of " + s.taskName + " now.", "Trigger"))) return;
    try {
      const answer = await Z.adminPost("/schedules/" + Z.enc(s.scheduleId) + "/" + action);
      if (action === "trigger") {
        const id = answer.durableExecutionId;
        const n = Z.notify("Started ");
        n.insertBefore(h("a", { href: "#/executions/" + Z.enc(id) }, id), n.lastChild);
      } else Z.notify("Schedule " + s.scheduleId + (action === "pause" ? " paused" : " resumed"));
    } catch (e) {
      Z.fail(action, e);
    }
    await Z.views.schedules.refresh(state);
  }

  async function remove(state, s) {
    if (!(await Z.confirm("Delete schedule " + s.scheduleId + "?", "It fires no more; the executions it started stay.", "Delete schedule"))) return;
    try {
      await Z.adminDelete("/schedules/" + Z.enc(s.scheduleId));
      Z.notify("Schedule " + s.scheduleId + " deleted");
    } catch (e) {
      Z.fail("Delete", e);
    }
    await Z.views.schedules.refresh(state);
  }
})();
