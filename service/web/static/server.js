// A server's page: its badges, facts and task follow the live feed; its services are checked
// and controlled on demand (each check runs on the host, so none runs on page load); its
// journal can follow. The service answers each journal read from the host and has no stream,
// so following reads again a few seconds after each answer (as `services logs -f` does) and
// adds the lines not shown yet; lines that anyone's read brings arrive over the feed too.
import { showBadges } from "./badges.js";
import { Feed, bindActions, call, confirmed, el, notify, taskLink } from "./dashboard.js";

const server = JSON.parse(document.getElementById("server-data").textContent);
const servicesUrl = `/api/v1/services/${server.id}`;
const unitUrl = (unit) => `${servicesUrl}/${encodeURIComponent(unit)}`;
const FINISHED_BADLY = new Set(["failed", "timeout", "cancelled", "interrupted"]);
const CHANGES = new Set(["start", "stop", "restart"]);
const CONFIRM = {
  stop: (unit) => `Stop ${unit}? It stays stopped until it is started again.`,
  restart: (unit) => `Restart ${unit}?`,
};

function utc(iso) {
  return `${new Date(iso).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

// The server

function showServer(current) {
  showBadges(document.getElementById("server-badges"), current);
  const last = document.querySelector('#server-summary [data-field="last_connection"]');
  last.replaceChildren(
    current.last_connection_at ? el("time", { datetime: current.last_connection_at }, utc(current.last_connection_at)) : "never",
    current.last_connection_error ? `: ${current.last_connection_error}` : "");
  const facts = Object.entries(current.facts ?? {});
  document.getElementById("facts").replaceChildren(...facts.flatMap(([key, value]) => [
    el("dt", {}, key.replaceAll("_", " ")),
    el("dd", {}, typeof value === "string" ? value : JSON.stringify(value)),
  ]));
  document.getElementById("no-facts").hidden = facts.length > 0;
}

function showTask(task) {
  const cell = document.querySelector('#server-summary [data-field="task"]');
  const shown = cell.querySelector("a[data-task-id]");
  if (shown && Number(shown.dataset.taskId) > task.id) return; // an older task's late news
  cell.replaceChildren(taskLink(task));
  if (task.kind === "audit" && task.status === "successful") document.getElementById("audit-news").hidden = false;
}

// Services

const services = document.querySelector("#services tbody");
const unitNames = document.getElementById("unit-names");

function unitRow(unit) {
  return [...services.querySelectorAll("tr[data-unit]")].find((row) => row.dataset.unit === unit);
}

function addUnitRow(unit) {
  const row = document.getElementById("unit-row").content.firstElementChild.cloneNode(true);
  row.dataset.unit = unit;
  row.querySelector('[data-field="unit"]').textContent = unit;
  for (const button of row.querySelectorAll("button[data-label]")) {
    button.setAttribute("aria-label", `${button.dataset.label} ${unit}`);
  }
  services.querySelector("tr.none")?.remove();
  services.append(row);
  unitNames.append(el("option", { value: unit }));
  return row;
}

function showState(unit, busy, ...content) {
  const cell = unitRow(unit)?.querySelector('[data-field="unit-state"]');
  if (!cell) return;
  cell.replaceChildren(...content);
  if (busy) cell.setAttribute("aria-busy", "true");
  else cell.removeAttribute("aria-busy");
}

function describe(status, checkedAt) {
  const details = [
    status.since ? `since ${status.since}` : null,
    status.main_pid ? `pid ${status.main_pid}` : null,
    status.memory_current ? `${(status.memory_current / 1048576).toFixed(1)} MiB` : null,
    checkedAt ? `checked ${utc(checkedAt)}` : null,
  ].filter(Boolean).join(" · ");
  return [
    el("span", { class: `unit-state ${status.active_state ?? ""}` },
      `${status.active_state ?? "unknown"}${status.sub_state ? ` (${status.sub_state})` : ""}`),
    details ? el("span", { class: "help" }, ` ${details}`) : null,
  ].filter(Boolean);
}

async function check(unit) {
  showState(unit, true, "checking…");
  try {
    const answer = await call("GET", unitUrl(unit));
    showState(unit, false, ...describe(answer.status));
  } catch (error) {
    const taskId = error.error?.details?.task_id;
    if (error.status === 504 && taskId) { // the answer comes over the feed when the task ends
      showState(unit, true, "still checking: ", taskLink({ id: taskId, kind: "service", status: "running" }));
    } else {
      showState(unit, false, el("span", { class: "error" }, error.message));
    }
  }
}

async function control(unit, action, button) {
  if (CONFIRM[action] && !(await confirmed(CONFIRM[action](unit)))) return;
  button.setAttribute("aria-busy", "true");
  try {
    const answer = await call("POST", unitUrl(unit), { action });
    showState(unit, true, `${action}: `, taskLink(answer.task));
  } catch (error) {
    notify(error.message);
  } finally {
    button.removeAttribute("aria-busy");
  }
}

function serviceTaskEnded(task) {
  const unit = task.params?.service_name;
  if (task.kind === "service" && CHANGES.has(task.params?.action) && FINISHED_BADLY.has(task.status)) {
    showState(unit, false, el("span", { class: "error" }, `${task.params.action} ${task.status}: ${task.error ?? ""}`));
  }
}

services.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-unit-action]");
  if (!button) return;
  const unit = button.closest("tr").dataset.unit;
  const action = button.dataset.unitAction;
  if (action === "status") check(unit);
  else if (action === "logs") {
    journalUnit.value = unit;
    showJournal();
    document.getElementById("journal-heading").scrollIntoView();
  } else control(unit, action, button);
});

document.getElementById("unit-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("unit-name");
  const unit = input.value.trim();
  if (!unitRow(unit)) addUnitRow(unit);
  input.value = "";
  check(unit);
});

async function lastKnown() {
  try {
    const answer = await call("GET", servicesUrl); // what earlier checks found: no playbook run
    for (const item of answer.items) {
      if (item.unit && item.status) showState(item.unit, false, ...describe(item.status, item.checked_at));
    }
  } catch (error) {
    notify(error.message);
  }
}

// The journal

const FOLLOW_EVERY = 5000; // ms from one read's answer to the next read, while following
const MAX_LINES = 5000;
const journal = document.getElementById("journal");
const journalUnit = document.getElementById("journal-unit");
const followButton = document.getElementById("journal-follow");
const stopButton = document.getElementById("journal-stop");
const journalState = document.getElementById("journal-state");
const seen = new Set();
let shownUnit = null;
let following = false;
let reading = false;
let timer = null;
let generation = 0; // a new Show starts a new generation: older reads' answers schedule nothing

function addLines(unit, entries) {
  if (unit !== shownUnit) return;
  const atEnd = journal.scrollTop + journal.clientHeight >= journal.scrollHeight - 4;
  for (const entry of entries) {
    const key = JSON.stringify([entry.time, entry.pid, entry.message]);
    if (seen.has(key)) continue;
    seen.add(key);
    const level = entry.priority <= 3 ? "failed" : entry.priority === 4 ? "warn" : undefined;
    journal.append(el("li", { class: level, "data-time": entry.time },
      `${entry.time ?? ""} ${entry.pid ? `[${entry.pid}] ` : ""}${entry.message ?? ""}`));
  }
  while (journal.children.length > MAX_LINES) journal.firstElementChild.remove();
  if (atEnd) journal.scrollTop = journal.scrollHeight;
}

function journalQuery() {
  const lines = document.getElementById("journal-lines").value || "100";
  const since = document.getElementById("journal-since").value.trim();
  return since ? { lines, since } : { lines };
}

async function read(query) {
  const unit = shownUnit;
  const mine = generation;
  reading = true;
  journal.setAttribute("aria-busy", "true");
  if (!following) journalState.textContent = `Reading the journal of ${unit}…`;
  try {
    const answer = await call("GET", `${unitUrl(unit)}/logs?${new URLSearchParams(query)}`);
    addLines(unit, answer.logs.entries ?? []);
    if (mine === generation) journalState.textContent = `${journal.children.length} lines of ${unit}${following ? ", following" : ""}.`;
  } catch (error) {
    if (mine !== generation) return;
    if (error.status === 504) {
      journalState.textContent = "The read is slow; its lines are added when it ends.";
    } else {
      journalState.textContent = error.message;
      stopFollowing();
    }
  } finally {
    if (mine === generation) {
      reading = false;
      journal.removeAttribute("aria-busy");
      if (following) timer = setTimeout(readNew, FOLLOW_EVERY);
    }
  }
}

function readNew() {
  // A tab in the background runs nothing on the host; it reads again when shown.
  if (document.hidden) return;
  // Overlap the previous read (host time, so no clock skew); lines already shown are skipped.
  if (shownUnit) read({ lines: 1000, since: `-${Math.max((FOLLOW_EVERY / 1000) * 4, 30)}s` });
}

function showJournal() {
  if (!document.getElementById("journal-form").reportValidity()) return false;
  clearTimeout(timer);
  generation += 1;
  shownUnit = journalUnit.value.trim();
  seen.clear();
  journal.replaceChildren();
  read(journalQuery());
  return true;
}

function stopFollowing() {
  following = false;
  clearTimeout(timer);
  if (!followButton.hidden) return;
  followButton.hidden = false;
  stopButton.hidden = true;
  followButton.focus();
  if (shownUnit) journalState.textContent = `${journal.children.length} lines of ${shownUnit}; stopped following.`;
}

document.getElementById("journal-form").addEventListener("submit", (event) => {
  event.preventDefault();
  showJournal();
});
followButton.addEventListener("click", () => {
  if (journalUnit.value.trim() !== shownUnit && !showJournal()) return;
  following = true;
  followButton.hidden = true;
  stopButton.hidden = false;
  stopButton.focus();
  if (!reading) readNew();
});
stopButton.addEventListener("click", stopFollowing);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && following && !reading) readNew();
});

// Live

bindActions();
document.getElementById("server-actions")?.addEventListener("api-done", (event) => {
  if (event.detail?.task) showTask(event.detail.task);
});
const feed = new Feed();
feed.on((message) => {
  if (message.type === "server.status" && message.server.id === server.id) showServer(message.server);
  if (message.type === "task.status" && message.task.server_id === server.id) {
    showTask(message.task);
    serviceTaskEnded(message.task);
  }
  if (message.type === "service.status" && message.server_id === server.id) {
    showState(message.service_name, false, ...describe(message.status));
  }
  if (message.type === "log" && message.server_id === server.id) addLines(message.service_name, [message]);
});
feed.subscribe(`server:${server.id}`);
feed.connect();
lastKnown();
