// The versions page: create the version (POST /api/v1/versions), then send its zip with
// XMLHttpRequest, which (unlike fetch) reports upload progress. The new row shows the
// SHA-256 and size the service stored, from its answer.
import { ApiError, call, csrf, el, errorText, notify } from "./dashboard.js";

const form = document.getElementById("upload-form");
const bar = document.getElementById("upload-progress");
const rows = document.querySelector("#versions tbody");
const ZIP_MAGIC = [[0x50, 0x4b, 0x03, 0x04], [0x50, 0x4b, 0x05, 0x06]]; // a zip, an empty zip
let pending = null; // a version created whose zip did not arrive: the next try reuses it

function size(bytes) {
  if (bytes < 1024) return bytes === 1 ? "1 Byte" : `${bytes} Bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function when(iso) {
  if (!iso) return "—";
  return el("time", { datetime: iso }, `${new Date(iso).toISOString().slice(0, 16).replace("T", " ")} UTC`);
}

// What can be told before anything is sent: no file, too big, not a zip.
async function problemWith(file) {
  if (!file) return "Choose the zip to upload.";
  const limit = Number(form.dataset.maxBytes);
  if (file.size > limit) return `${file.name} is ${size(file.size)}; the limit is ${size(limit)}.`;
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  if (!ZIP_MAGIC.some((magic) => magic.every((byte, i) => head[i] === byte))) {
    return `${file.name} is not a zip file.`;
  }
  return null;
}

function showRow(version, appName) {
  const row = el("tr", { "data-version-id": version.id, class: "new" },
    el("td", {}, el("a", { href: `/apps/${version.app_id}` }, appName)),
    el("th", { scope: "row", "data-field": "version_number" }, version.version_number),
    el("td", { "data-field": "size_bytes" }, version.size_bytes === null ? "no zip yet" : size(version.size_bytes)),
    el("td", { "data-field": "sha256", class: "mono" }, version.sha256 ?? "—"),
    el("td", { "data-field": "uploaded_at" }, when(version.uploaded_at)),
    el("td", { "data-field": "notes", class: "notes" }, version.notes));
  rows.querySelector(".empty")?.remove();
  const shown = rows.querySelector(`tr[data-version-id="${version.id}"]`);
  if (shown) shown.replaceWith(row);
  else rows.prepend(row);
}

function upload(version, file) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `/api/v1/versions/${version.id}/upload`);
    request.setRequestHeader("Content-Type", "application/zip");
    request.setRequestHeader("X-CSRF-Token", csrf);
    request.responseType = "json";
    request.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      bar.max = event.total;
      bar.value = event.loaded;
    });
    request.addEventListener("load", () => {
      if (request.status !== 201) {
        reject(new ApiError(errorText(request.response, request.status, request.statusText)));
        return;
      }
      bar.value = bar.max; // full: a small zip is sent before any progress event fires
      resolve(request.response);
    });
    request.addEventListener("error", () => reject(new ApiError("The upload was cut off; try again.")));
    request.send(file);
  });
}

async function submit(event) {
  event.preventDefault();
  const file = form.elements.file.files[0];
  const problem = await problemWith(file);
  if (problem) { notify(problem); return; }
  const wanted = {
    app_id: Number(form.elements.app_id.value),
    version_number: form.elements.version_number.value.trim(),
    notes: form.elements.notes.value,
  };
  const appName = form.elements.app_id.selectedOptions[0].textContent;
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  bar.value = 0;
  try {
    const reuse = pending?.app_id === wanted.app_id && pending?.version_number === wanted.version_number;
    const version = reuse ? pending : await call("POST", "/api/v1/versions", wanted);
    pending = version;
    showRow(version, appName);
    const stored = await upload(version, file);
    pending = null;
    showRow(stored, appName);
    notify(`Uploaded ${stored.version_number}: SHA-256 ${stored.sha256}`, "info");
    form.reset();
  } catch (error) {
    notify(error.message);
  } finally {
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

form?.addEventListener("submit", submit);
