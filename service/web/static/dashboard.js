// What every dashboard page shares: calls to the REST API with the session's CSRF token,
// the live feed (one WebSocket, resubscribed after a reconnect), buttons and forms.

export const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class ApiError extends Error {
  constructor(message, status, error) {
    super(message);
    this.status = status; // the HTTP status
    this.error = error; // the body's `error` object (code, message, details), when there is one
  }
}

// The API's error envelope as one line: its message and the fields it names.
export function errorText(data, status, statusText) {
  const error = data?.error;
  const details = error?.details && Object.keys(error.details).length
    ? " " + Object.entries(error.details).map(([k, v]) => `${k}: ${[].concat(v).join(", ")}`).join("; ")
    : "";
  return (error?.message ?? `${status} ${statusText}`) + details;
}

export async function call(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(errorText(data, response.status, response.statusText), response.status, data?.error);
  }
  return data;
}

export function notify(message, kind = "error") {
  const box = document.getElementById("notice");
  box.textContent = message;
  box.className = `notice ${kind}`;
  box.hidden = false;
}

export function confirmed(text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  document.getElementById("confirm-no").focus();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true }));
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== undefined && child !== null));
  return node;
}

export function taskLink(task) {
  return el("a", { href: `/tasks/${task.id}`, "data-task-id": task.id, class: `task ${task.status}` },
    `${task.kind.replaceAll("_", " ")} · `, el("span", { "data-field": "status" }, task.status));
}

// Each host of a run as a labelled progress bar with its counts, in `list` (a <ul>);
// a finished run's bars are full.
export function showHosts(list, progress, finished) {
  const started = Math.max(progress.tasks_started ?? 0, 1);
  for (const [name, counts] of Object.entries(progress.hosts ?? {})) {
    const done = counts.ok + counts.changed + counts.failed + counts.skipped + counts.unreachable;
    let item = list.querySelector(`li[data-host-row="${CSS.escape(name)}"]`);
    if (!item) {
      const id = `${list.id}-${list.children.length}`;
      item = el("li", { "data-host-row": name },
        el("label", { for: id }, name),
        el("progress", { id, "data-host": name, max: started, value: 0 }),
        el("span", { class: "counts" }));
      list.append(item);
    }
    const bar = item.querySelector("progress");
    bar.max = Math.max(started, done);
    bar.value = finished ? bar.max : done;
    item.classList.toggle("failed", counts.failed + counts.unreachable > 0);
    item.querySelector(".counts").textContent =
      `ok ${counts.ok} · changed ${counts.changed} · failed ${counts.failed} · skipped ${counts.skipped} · unreachable ${counts.unreachable}`;
  }
}

// One WebSocket per page. Listeners get every message; task topics resume after the last
// sequence number seen, so a reconnect replays what was missed, without duplicates.
export class Feed {
  constructor() {
    this.topics = new Map(); // topic -> {after: last seq seen (null: no replay), types}
    this.listeners = [];
    this.delay = 500;
    this.state = document.getElementById("live-state");
  }

  // `types` narrows the topic to some message types (a list page needs no log lines).
  subscribe(topic, { after = null, types = null } = {}) {
    this.topics.set(topic, { after, types });
    this.send(this.request(topic));
  }

  request(topic) {
    const { after, types } = this.topics.get(topic);
    return { type: "subscribe", topic, ...(after === null ? {} : { after }), ...(types ? { types } : {}) };
  }

  on(listener) {
    this.listeners.push(listener);
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.socket = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
    this.socket.addEventListener("open", () => {
      this.delay = 500;
      this.show("");
      for (const topic of this.topics.keys()) this.send(this.request(topic));
    });
    this.socket.addEventListener("message", (frame) => {
      const message = JSON.parse(frame.data);
      if (message.type === "task.event") {
        const subscription = this.topics.get(`task:${message.task_id}`);
        if (subscription && subscription.after !== null) {
          if (message.seq <= subscription.after) return;
          subscription.after = message.seq;
        }
      }
      for (const listener of this.listeners) listener(message);
    });
    this.socket.addEventListener("close", (event) => {
      if (event.code === 1008 && event.reason === "unauthorized") {
        this.show("Live updates stopped: the session has ended. Reload to log in again.");
        return;
      }
      // Lost, or dropped for being too slow: reconnect; task topics resume after their last seq.
      this.show("Live updates lost; reconnecting…");
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    });
  }

  show(text) {
    this.state.textContent = text;
    this.state.hidden = !text;
  }
}

function formBody(form) {
  const body = {};
  for (const input of form.querySelectorAll("input[name], select[name], textarea[name]")) {
    if (input.type === "file") continue;
    if (input.type === "checkbox") { body[input.name] = input.checked; continue; }
    if (input.value === "" && input.hasAttribute("data-optional")) continue;
    body[input.name] = input.dataset.type === "int" ? Number(input.value) : input.value;
  }
  return body;
}

async function run(element, url, method, body) {
  if (element.dataset.confirm && !(await confirmed(element.dataset.confirm))) return null;
  element.setAttribute("aria-busy", "true");
  try {
    const data = await call(method, url, body);
    element.dispatchEvent(new CustomEvent("api-done", { bubbles: true, detail: data }));
    if (element.dataset.then === "reload") location.reload();
    if (element.dataset.then === "task" && data?.task) location.assign(`/tasks/${data.task.id}`);
    return data;
  } catch (error) {
    notify(error.message);
    return null;
  } finally {
    element.removeAttribute("aria-busy");
  }
}

// Buttons with data-url POST there (JSON from data-body); forms with class api-form send
// their fields as JSON. data-confirm asks first; data-then says what follows.
export function bindActions(root = document) {
  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-url]");
    if (!button) return;
    run(button, button.dataset.url, button.dataset.method ?? "POST",
      button.dataset.body ? JSON.parse(button.dataset.body) : undefined);
  });
  root.addEventListener("submit", (event) => {
    const form = event.target.closest("form.api-form");
    if (!form) return;
    event.preventDefault();
    run(form, form.dataset.url, form.dataset.method ?? "POST", formBody(form));
  });
}
