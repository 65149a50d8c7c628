// AniBridge UI helpers: live updates over server-sent events, plan selection and
// confirmations. Plain ES2020, no dependencies; every page also works without it.
"use strict";
(() => {
  const base = document.querySelector('meta[name="base-path"]')?.content ?? "";
  document.documentElement.classList.add("js");

  // Small screens: the menu button opens and closes the navigation.
  const menu = document.querySelector(".menu-toggle");
  if (menu) {
    const setOpen = (open) => {
      menu.setAttribute("aria-expanded", String(open));
      menu.closest(".topbar").classList.toggle("open", open);
    };
    menu.addEventListener("click", () => setOpen(menu.getAttribute("aria-expanded") !== "true"));
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && menu.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        menu.focus();
      }
    });
  }

  // Relative times stay true while a page is open; the exact local time on hover.
  const units = [[86400 * 365, "year"], [86400 * 30, "month"], [86400, "day"], [3600, "h"], [60, "min"]];
  function relative(then) {
    const seconds = (Date.now() - then.getTime()) / 1000;
    const abs = Math.abs(seconds);
    if (abs < 45) return "just now";
    const [size, unit] = units.find(([n]) => abs >= n) ?? [60, "min"];
    const count = Math.max(1, Math.round(abs / size));
    const text = `${count} ${unit}${["year", "month", "day"].includes(unit) && count !== 1 ? "s" : ""}`;
    return seconds < 0 ? `in ${text}` : `${text} ago`;
  }
  function refreshTimes() {
    document.querySelectorAll("time.ago[datetime]").forEach((el) => {
      const then = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(then.getTime())) return;
      el.textContent = relative(then);
      el.title = `${then.toLocaleString()} (${el.dataset.utc})`;
    });
    // Log lines keep their exact UTC time; how long ago, in local time, on hover.
    document.querySelectorAll("time.exact[datetime]").forEach((el) => {
      const then = new Date(el.getAttribute("datetime"));
      if (!Number.isNaN(then.getTime())) el.title = `${relative(then)} · ${then.toLocaleString()}`;
    });
  }
  refreshTimes();
  setInterval(refreshTimes, 30000);

  function toast(text) {
    const el = document.getElementById("toast");
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
    clearTimeout(el._t);
    el._t = setTimeout(() => { el.hidden = true; }, 5000);
  }

  // Confirm destructive forms.
  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    const question = form.dataset.confirm;
    if (question && !window.confirm(question)) { ev.preventDefault(); return; }
    const button = form.querySelector("button[data-busy-label]");
    if (button) { button.disabled = true; button.textContent = button.dataset.busyLabel; }
  });

  document.querySelectorAll("select[data-autosubmit]").forEach((el) =>
    el.addEventListener("change", () => el.form.submit()));

  // Plan review: select all / none and a live count.
  const planForm = document.getElementById("plan-form");
  if (planForm) {
    const boxes = [...planForm.querySelectorAll('input[name="action_id"]')];
    const all = planForm.querySelector("[data-select-all]");
    const count = planForm.querySelector("[data-selected-count]");
    const submit = planForm.querySelector('button[type="submit"]');
    const update = () => {
      const n = boxes.filter((b) => b.checked).length;
      count.textContent = `${n} of ${boxes.length} selected`;
      all.checked = n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
      if (submit && !submit.dataset.locked) submit.disabled = n === 0;
      boxes.forEach((b) => b.closest("tr").classList.toggle("unselected", !b.checked));
    };
    if (submit && submit.disabled) submit.dataset.locked = "1";
    boxes.forEach((b) => b.addEventListener("change", update));
    all.addEventListener("change", () => { boxes.forEach((b) => { b.checked = all.checked; }); update(); });
    update();
  }

  // Override problems: "line 4" selects that line in the editor.
  document.querySelectorAll("a.line-link").forEach((link) =>
    link.addEventListener("click", (ev) => {
      const area = document.getElementById("overrides-text");
      if (!area) return;
      ev.preventDefault();
      const lines = area.value.split("\n");
      const n = Math.min(Number(link.dataset.line), lines.length) - 1;
      const start = lines.slice(0, n).reduce((sum, l) => sum + l.length + 1, 0);
      area.focus();
      area.setSelectionRange(start, start + lines[n].length);
      const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 18;
      area.scrollTop = Math.max(0, (n - 3) * lineHeight);
    }));
  // Live progress of a background sync/preview (progress page).
  const runBox = document.getElementById("run-progress");
  if (runBox && window.EventSource) {
    const since = Number(runBox.dataset.since || 0);
    const body = runBox.querySelector("[data-body]");
    const phase = document.querySelector("[data-phase]");
    const el = (tag, text, cls) => {
      const node = document.createElement(tag);
      if (text !== undefined) node.textContent = text;
      if (cls) node.className = cls;
      return node;
    };
    const show = (state) => {
      if (!state || state.seq <= since) return;
      const r = state.result || {};
      if (state.finished && runBox.dataset.then === "plan" && r.plan_id) {
        window.location.assign(`${base}/plans/${encodeURIComponent(r.plan_id)}`);
        return;
      }
      if (phase) {
        phase.textContent = state.phase;
        const ok = state.finished && r.status === "ok";
        phase.className = `badge ${state.finished ? (ok ? "ok" : "failed") : "busy"}`;
      }
      const heading = document.querySelector(".page-head h1");
      if (heading) heading.textContent = `${state.job[0].toUpperCase()}${state.job.slice(1)} · ${runBox.dataset.profile}`;
      const parts = [el("p", `Elapsed ${state.elapsed_s} s`, "muted small")];
      if (state.reads.length) {
        parts.push(el("h2", "Read"));
        const table = el("table", undefined, "reads");
        const head = el("tr");
        ["Provider", "Section", "Pages", "Items"].forEach((t) => head.append(el("th", t)));
        table.append(el("thead"), el("tbody"));
        table.tHead.append(head);
        state.reads.forEach((row) => {
          const tr = el("tr");
          [row.provider, row.section, row.pages, row.items].forEach((v) => tr.append(el("td", String(v))));
          table.tBodies[0].append(tr);
        });
        const wrap = el("div", undefined, "scroll");
        wrap.append(table);
        parts.push(wrap);
      }
      const w = state.writes;
      if (w.total !== null) {
        parts.push(el("h2", "Written"));
        const line = el("p");
        const bar = el("progress");
        bar.max = w.total || 1; bar.value = w.done;
        line.append(bar, ` ${w.done} / ${w.total}${w.rate ? ` · ${w.rate}/s` : ""}`);
        parts.push(line);
      }
      if (state.waiting) {
        const wt = state.waiting;
        parts.push(el("p", `Waiting ${wt.left} s: ${wt.service} ${wt.reason}`, "waiting"));
      }
      if (state.finished) {
        parts.push(el("h2", "Result"));
        const line = el("p");
        line.append(el("span", r.status || "failed", `badge ${r.status || "failed"}`));
        const counts = Object.entries(r.summary || {}).filter(([, v]) => typeof v === "number" && v);
        if (counts.length) line.append(" " + counts.map(([k, v]) => `${k} ${v}`).join(", "));
        parts.push(line);
        if (r.error) parts.push(el("p", r.error, "error"));
        const links = el("p");
        if (r.plan_id && state.job === "preview") {
          const a = el("a", "Review the plan", "button primary");
          a.href = `${base}/plans/${encodeURIComponent(r.plan_id)}`;
          links.append(a, " ");
        }
        const tl = el("a", "Timeline", "button ghost");
        tl.href = `${base}/timeline/${encodeURIComponent(runBox.dataset.profile)}`;
        links.append(tl);
        parts.push(links);
      }
      body.replaceChildren(...parts);
    };
    const stream = new EventSource(runBox.dataset.stream);
    stream.addEventListener("state", (ev) => show(JSON.parse(ev.data).progress));
    stream.addEventListener("progress", (ev) => show(JSON.parse(ev.data).state));
  }

  // Live updates.
  if (!document.querySelector(".topbar") || !window.EventSource) return;
  const live = document.getElementById("live");
  const source = new EventSource(`${base}/api/events`);
  source.onopen = () => live?.classList.add("on");
  source.onerror = () => live?.classList.remove("on");
  const card = (profile) => document.querySelector(`.profile[data-profile="${CSS.escape(profile)}"]`);
  source.addEventListener("run_started", (ev) => {
    const data = JSON.parse(ev.data);
    const el = card(data.profile)?.querySelector("[data-state]");
    if (el) { el.textContent = "Syncing…"; el.className = "badge state busy"; }
  });
  source.addEventListener("run_finished", (ev) => {
    const data = JSON.parse(ev.data);
    const c = card(data.profile);
    if (c) {
      const el = c.querySelector("[data-state]");
      el.textContent = "Idle"; el.className = "badge state idle";
      const last = c.querySelector("[data-last-run]");
      if (last) {
        const r = data.result;
        last.textContent = `Last run ${r.status} · ${r.request.mode || ""}${r.request.dry_run ? " (dry run)" : ""} · just now`;
      }
    }
    if (!data.result.request.dry_run) toast(`${data.profile}: sync ${data.result.status}`);
  });
  source.addEventListener("webhook", (ev) => {
    const data = JSON.parse(ev.data);
    toast(`Webhook from ${data.provider} → ${data.profiles.join(", ") || "no profile"}`);
  });
  const logs = document.getElementById("logs");
  if (logs) {
    const floor = { "": 0, INFO: 20, WARNING: 30, ERROR: 40 }[logs.dataset.level] ?? 0;
    const levels = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };
    source.addEventListener("log", (ev) => {
      const r = JSON.parse(ev.data).record;
      if ((levels[r.level] ?? 0) < floor) return;
      logs.querySelector("[data-empty]")?.remove();
      const line = document.createElement("div");
      line.className = `log ${r.level.toLowerCase()}`;
      const time = document.createElement("time");
      time.textContent = r.at.replace("T", " ").slice(0, 19) + " UTC";
      const level = document.createElement("b");
      level.textContent = r.level;
      const name = document.createElement("span");
      name.className = "muted";
      name.textContent = r.logger;
      line.append(time, " ", level, " ", name, " ", r.message);
      const atEnd = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 20;
      logs.append(line);
      if (atEnd) logs.scrollTop = logs.scrollHeight;
    });
  }
})();
