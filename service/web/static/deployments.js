// The deployments page: a deployment's row follows it live. The feed says when its task
// changes; the row then reads the deployment itself (the API decides its status), once.
import { ApiError, Feed, call, el, notify, taskLink } from "./dashboard.js";

const table = document.getElementById("deployments");
const rows = () => table.querySelectorAll("tr[data-deployment-id]");
const newest = Math.max(0, ...[...rows()].map((row) => Number(row.dataset.deploymentId)));
const asked = new Map(); // deployment id -> number of the latest read (older answers lose)

function seconds(deployment) {
  if (!deployment.started_at || !deployment.completed_at) return "—";
  const spent = (Date.parse(deployment.completed_at) - Date.parse(deployment.started_at)) / 1000;
  return `${Math.round(spent * 10) / 10} s`;
}

function show(row, deployment, task) {
  const status = row.querySelector('[data-field="status"]');
  status.textContent = deployment.status;
  status.className = `status ${deployment.status}`;
  row.dataset.status = deployment.status;
  row.querySelector(".error-text")?.remove();
  if (deployment.error) status.after(el("span", { class: "error-text" }, deployment.error));
  row.querySelector('[data-field="duration"]').textContent = seconds(deployment);
  if (task) row.querySelector('[data-field="task"]').replaceChildren(taskLink(task));
}

async function refresh(row, id) {
  const number = (asked.get(id) ?? 0) + 1;
  asked.set(id, number);
  try {
    const answer = await call("GET", `/api/v1/deployments/${id}/status`);
    if (asked.get(id) === number) show(row, answer.deployment, answer.task);
  } catch (error) {
    if (error instanceof ApiError) notify(`Deployment ${id}: ${error.message}`);
  }
}

const ACTIVE = new Set(["pending", "running"]);
const feed = new Feed();
feed.on((message) => {
  if (message.type === "subscribed") { // (again): what changed before, or while cut off
    for (const row of rows()) {
      if (ACTIVE.has(row.dataset.status)) refresh(row, Number(row.dataset.deploymentId));
    }
    return;
  }
  const id = message.type === "task.status" ? message.task.deployment_id : null;
  if (!id) return;
  const row = table.querySelector(`tr[data-deployment-id="${id}"]`);
  if (row) refresh(row, id);
  else if (id > newest && table.dataset.newestFirst !== undefined) {
    document.getElementById("new-deployments").hidden = false;
  }
});
feed.subscribe("all", { types: ["task.status"] });
feed.connect();
