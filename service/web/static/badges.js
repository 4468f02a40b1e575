// A server's reachable / set up / locked badges (macros.html server_badges), redrawn from a
// `server.status` message; shared by the servers list and a server's own page.

function setBadge(badge, state, yes, no, unknown) {
  if (!badge) return;
  badge.className = `badge ${state === true ? "good" : state === false ? "bad" : "unknown"}`;
  badge.textContent = state === true ? yes : state === false ? no : unknown;
}

export function showBadges(root, server) {
  setBadge(root.querySelector('[data-field="reachable"]'), server.last_connection_ok, "reachable", "unreachable", "not tested");
  setBadge(root.querySelector('[data-field="setup"]'), server.setup_complete || null, "set up", "", "not set up");
  setBadge(root.querySelector('[data-field="locked"]'), server.security_locked || null, "locked", "", "not locked");
}
