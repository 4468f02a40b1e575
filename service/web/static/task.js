// The task page: the live log (replayed from the start, resumed after a reconnect), each
// host's progress, the status, and which of cancel and retry apply.
import { Feed, bindActions, el } from "./dashboard.js";

const task = JSON.parse(document.getElementById("task-data").textContent);
const log = document.getElementById("log");
const hosts = document.getElementById("hosts");
const FAILED = new Set(["runner_on_failed", "runner_on_unreachable"]);
const ACTIVE = new Set(["queued", "running"]);

function line(seq, event) {
  const result = event.result ?? {};
  const message = result.msg ?? result.stderr ?? "";
  switch (event.event) {
    case "playbook_on_play_start": return `PLAY ${event.play ?? ""}`;
    case "playbook_on_task_start": return `TASK ${event.task ?? ""}`;
    case "runner_on_ok": return `${event.changed ? "changed" : "ok"}: [${event.host}] ${event.task ?? ""}`;
    case "runner_on_skipped": return `skipping: [${event.host}] ${event.task ?? ""}`;
    case "runner_on_failed": return `failed: [${event.host}] ${event.task ?? ""} ${message}`;
    case "runner_on_unreachable": return `unreachable: [${event.host}] ${message}`;
    case "playbook_on_stats": return "PLAY RECAP";
    default: return null;
  }
}

function addEvent(message) {
  const text = line(message.seq, message.event);
  if (text === null) return;
  const failed = FAILED.has(message.event.event);
  log.append(el("li", {
    "data-seq": message.seq, "data-created": message.event.created, class: failed ? "failed" : undefined,
  }, text));
}

function showProgress(progress) {
  const started = Math.max(progress.tasks_started ?? 0, 1);
  for (const [name, counts] of Object.entries(progress.hosts ?? {})) {
    const done = counts.ok + counts.changed + counts.failed + counts.skipped + counts.unreachable;
    let item = hosts.querySelector(`li[data-host-row="${CSS.escape(name)}"]`);
    if (!item) {
      const id = `host-${hosts.children.length}`;
      item = el("li", { "data-host-row": name },
        el("label", { for: id }, name),
        el("progress", { id, "data-host": name, max: started, value: 0 }),
        el("span", { class: "counts" }));
      hosts.append(item);
    }
    const bar = item.querySelector("progress");
    bar.max = Math.max(started, done);
    bar.value = ACTIVE.has(task.status) ? done : bar.max;
    item.classList.toggle("failed", counts.failed + counts.unreachable > 0);
    item.querySelector(".counts").textContent =
      `ok ${counts.ok} · changed ${counts.changed} · failed ${counts.failed} · skipped ${counts.skipped} · unreachable ${counts.unreachable}`;
  }
  document.getElementById("current-task").textContent = progress.current_task ?? "—";
}

function showStatus(current) {
  Object.assign(task, current);
  const status = document.getElementById("task-status");
  status.textContent = current.status;
  status.className = `status ${current.status}`;
  document.getElementById("task-error").textContent = current.error ?? "—";
  document.getElementById("cancel")?.toggleAttribute("hidden", !ACTIVE.has(current.status));
  document.getElementById("retry")?.toggleAttribute("hidden", ACTIVE.has(current.status) || current.status === "successful");
  if (current.progress) showProgress(current.progress);
}

document.getElementById("failed-only").addEventListener("change", (event) => {
  log.classList.toggle("failed-only", event.target.checked);
});
bindActions();
showStatus(task);
const feed = new Feed();
feed.on((message) => {
  if (message.type === "task.event" && message.task_id === task.id) addEvent(message);
  if (message.type === "task.progress" && message.task_id === task.id) showProgress(message.progress);
  if (message.type === "task.status" && message.task.id === task.id) showStatus(message.task);
});
feed.subscribe(`task:${task.id}`, { after: 0 });
feed.connect();
