// The servers page: badges and the running task of each row follow the live feed.
import { showBadges } from "./badges.js";
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

function showServer(server) {
  const tr = row(server.id);
  if (tr) showBadges(tr, server);
}

// Several servers at once: the checked rows go to one task (`server_ids`), whose page
// follows each host.
const picks = () => [...table.querySelectorAll("input.pick")];
const manyButtons = [...document.querySelectorAll("button[data-many]")];

function showSelection() {
  const ids = picks().filter((box) => box.checked).map((box) => Number(box.value));
  for (const button of manyButtons) {
    button.disabled = ids.length === 0;
    button.dataset.body = JSON.stringify({ server_ids: ids });
  }
  const count = document.getElementById("selected-count");
  if (count) count.textContent = ids.length ? `${ids.length} selected` : "No server selected";
  const all = document.getElementById("select-all");
  if (all) all.checked = ids.length > 0 && ids.length === picks().length;
}

table.addEventListener("change", (event) => {
  if (event.target.id === "select-all") {
    for (const box of picks()) box.checked = event.target.checked;
  }
  showSelection();
});
showSelection();

bindActions();
table.addEventListener("api-done", (event) => { if (event.detail?.task) showTask(event.detail.task); });
const feed = new Feed();
feed.on((message) => {
  if (message.type === "task.status") showTask(message.task);
  if (message.type === "server.status") showServer(message.server);
});
feed.subscribe("all", { types: ["task.status", "server.status"] });
feed.connect();
