// The apps list and one app's page. A task of a listed app that changes status re-reads the
// page and swaps its [data-refresh] regions (status, live version per host, releases,
// rollback target), so what they show is rendered by the server alone; the running task's
// per-host progress follows the feed between those changes.
import { Feed, bindActions, showHosts, taskLink } from "./dashboard.js";

const data = JSON.parse(document.getElementById("app-data")?.textContent ?? "null");
const progress = document.getElementById("deploy-progress");
const hosts = document.getElementById("deploy-hosts");
const ACTIVE = new Set(["queued", "running"]);
let current = data?.task ?? null;
let refreshing = null;
let again = false;

function listed(appId) {
  return data ? data.app.id === appId : document.querySelector(`tr[data-app-id="${appId}"]`) !== null;
}

async function reread() {
  const response = await fetch(location.href, { credentials: "same-origin" });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  const focused = document.activeElement?.id;
  for (const region of document.querySelectorAll("[data-refresh]")) {
    const next = fresh.querySelector(`[data-refresh="${region.dataset.refresh}"]`);
    if (next) region.replaceWith(document.adoptNode(next));
  }
  if (focused) document.getElementById(focused)?.focus();
}

// At most one re-read at a time; news during one asks for one more after it.
function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = reread().finally(() => {
    refreshing = null;
    if (again) { again = false; refresh(); }
  });
}

function showTask(task) {
  if (current?.id !== task.id) hosts.replaceChildren();
  current = task;
  progress.hidden = false;
  document.getElementById("deploy-task").replaceChildren(taskLink(task));
  if (task.progress) showProgress(task.progress);
}

function showProgress(report) {
  showHosts(hosts, report, !ACTIVE.has(current.status));
  document.getElementById("deploy-step").textContent = report.current_task ?? "";
}

bindActions();
if (current) showTask(current);
const feed = new Feed();
feed.on((message) => {
  if (message.type === "task.status" && listed(message.task.app_id)) {
    if (progress) showTask(message.task);
    refresh();
  }
  if (message.type === "task.progress" && progress && current?.id === message.task_id) {
    showProgress(message.progress);
  }
});
feed.subscribe(data ? `app:${data.app.id}` : "all", { types: ["task.status", "task.progress"] });
feed.connect();
