// The overview: tasks appear in "Running now" as they start and leave when they end.
import { Feed, bindActions, el, taskLink } from "./dashboard.js";

const running = document.getElementById("running");

function showTask(task) {
  const item = running.querySelector(`[data-task-row="${task.id}"]`);
  const active = task.status === "queued" || task.status === "running";
  if (item && !active) item.remove();
  else if (item) item.querySelector("a[data-task-id]").replaceWith(taskLink(task));
  else if (active) running.append(el("li", { "data-task-row": task.id }, taskLink(task)));
  running.querySelector(".empty")?.toggleAttribute("hidden", running.children.length > 1);
}

bindActions();
const feed = new Feed();
feed.on((message) => { if (message.type === "task.status") showTask(message.task); });
feed.subscribe("all", { types: ["task.status"] });
feed.connect();
