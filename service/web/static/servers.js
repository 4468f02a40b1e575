// The servers page: badges and the running task of each row follow the live feed.
import { Feed, bindActions, taskLink } from "./dashboard.js";

const table = document.getElementById("servers");

function row(serverId) {
  return table.querySelector(`tr[data-server-id="${serverId}"]`);
}

function showTask(task) {
  const cell = row(task.server_id)?.querySelector('[data-field="task"]');
  if (!cell) return;
  const shown = cell.querySelector("a[data-task-id]");
  if (shown && Number(shown.dataset.taskId) > task.id) return; // an older task's late news
  cell.replaceChildren(taskLink(task));
}

function setBadge(badge, state, yes, no, unknown) {
  badge.className = `badge ${state === true ? "good" : state === false ? "bad" : "unknown"}`;
  badge.textContent = state === true ? yes : state === false ? no : unknown;
}

function showServer(server) {
  const tr = row(server.id);
  if (!tr) return;
  setBadge(tr.querySelector('[data-field="reachable"]'), server.last_connection_ok, "reachable", "unreachable", "not tested");
  setBadge(tr.querySelector('[data-field="setup"]'), server.setup_complete || null, "set up", "", "not set up");
  setBadge(tr.querySelector('[data-field="locked"]'), server.security_locked || null, "locked", "", "not locked");
}

bindActions();
table.addEventListener("api-done", (event) => { if (event.detail?.task) showTask(event.detail.task); });
const feed = new Feed();
feed.on((message) => {
  if (message.type === "task.status") showTask(message.task);
  if (message.type === "server.status") showServer(message.server);
});
feed.subscribe("all", { types: ["task.status", "server.status"] });
feed.connect();
