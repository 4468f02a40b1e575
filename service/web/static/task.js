// The task page: the live log (replayed from the start, resumed after a reconnect), each
// host's progress, the status, and which of cancel and retry apply.
import { Feed, bindActions, el, showHosts } from "./dashboard.js";

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
  showHosts(hosts, progress, !ACTIVE.has(task.status));
  // A successful run's last started task is often a skipped guard: name no step then.
  const step = task.status === "successful" ? null : progress.current_task;
  document.getElementById("current-task").textContent = step ?? "—";
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
