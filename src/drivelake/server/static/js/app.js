// The shell: login, navigation and the hash router (#/fleet, #/drive/ID?t=S, #/search, ...).

import { ApiError, get, key } from "./api.js";
import { el, replace, state } from "./ui.js";

const PAGES = {
  fleet: { title: "Fleet", admin: true, load: () => import("./fleet.js") },
  drive: { title: "Drive", admin: false, nav: false, load: () => import("./drive.js") },
  search: { title: "Search", admin: true, load: () => import("./search.js") },
  datasets: { title: "Datasets", admin: true, load: () => import("./datasets.js") },
  sharing: { title: "Sharing", admin: false, load: () => import("./sharing.js") },
};

const main = document.getElementById("main");
let session = null;
let cleanup = null;
/** The first page's data ({hash, data}), requested while the session is checked. */
let early = null;

/** The route in the hash: page name, path parts and query parameters. */
export function route() {
  const [path, search] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "", parts: parts.slice(1), params: new URLSearchParams(search || "") };
}

export function go(hash) {
  location.hash = hash;
}

function login(message) {
  session = null;
  replace(document.getElementById("nav"));
  replace(document.getElementById("who"));
  const input = el("input#key", { type: "password", autocomplete: "off", required: true, placeholder: "dlk_…" });
  const form = el(
    "form.login",
    {
      on: {
        submit: async (e) => {
          e.preventDefault();
          key.set(input.value.trim());
          await start();
        },
      },
    },
    el("h1", {}, "Sign in"),
    el("label", { for: "key" }, "API key (admin or partner)"),
    input,
    el("button", { type: "submit" }, "Open"),
    el("p.hint", {}, "Create one with ", el("code", {}, "drivelake key create --admin"), ". It stays in this tab only."),
    message ? state("error", message) : null,
  );
  replace(main, form);
  input.focus();
}

function header() {
  const nav = document.getElementById("nav");
  const pages = Object.entries(PAGES).filter(([, p]) => p.nav !== false && (session.role === "admin" || !p.admin));
  replace(nav, pages.map(([name, p]) => el("a", { href: `#/${name}`, dataset: { page: name } }, p.title)));
  const who = session.role === "admin" ? "admin" : `partner ${session.partner}`;
  replace(
    document.getElementById("who"),
    el("span", {}, who),
    el("button.link", { type: "button", on: { click: () => { key.clear(); login(); } } }, "Sign out"),
  );
}

async function show() {
  if (!session) return;
  if (cleanup) cleanup();
  cleanup = null;
  const r = route();
  const fallback = session.role === "admin" ? "fleet" : "sharing";
  const name = PAGES[r.page] ? r.page : fallback;
  const page = PAGES[name];
  /** An error instead of the page, with a way back to the start page. */
  const failed = (message) =>
    replace(main, el("section.page", {}, state("error", message), el("p", {}, el("a", { href: `#/${fallback}` }, `Back to ${PAGES[fallback].title}`))));
  if (page.admin && session.role !== "admin") {
    failed("This page needs an admin key; partners see their shares.");
    return;
  }
  for (const a of document.querySelectorAll("#nav a")) {
    a.toggleAttribute("aria-current", a.dataset.page === name || (name === "drive" && a.dataset.page === "fleet"));
  }
  document.title = `${page.title} · drivelake`;
  // Shown above the page (whatever its layout) until the page has drawn itself.
  const busy = el("p.state.loading.busy", { role: "status" }, `Loading ${page.title.toLowerCase()}…`);
  replace(main, busy);
  main.dataset.page = name;
  try {
    const module = await page.load();
    const view = el(`section.page.page-${name}`);
    replace(main, busy, view);
    const data = early && early.hash === location.hash ? early.data : null;
    early = null;
    cleanup = (await module.render(view, { ...r, session, data })) || null;
    busy.remove();
  } catch (err) {
    failed(err instanceof ApiError ? err.message : `Something went wrong: ${err.message}`);
    console.error(err);
  }
}

async function start() {
  if (!key.get()) return login();
  // Load the page's module, and the data of pages that can ask for it without the session
  // (their `load(route)`), while the session is checked; errors are shown by show().
  const r = route();
  const module = PAGES[r.page]?.load();
  if (module) {
    early = { hash: location.hash, data: module.then((m) => (m.load ? m.load(r) : null)) };
    early.data.catch(() => {});
  }
  try {
    session = await get("/api/app/session");
  } catch (err) {
    key.clear();
    return login(err instanceof ApiError && err.status === 401 ? `Not accepted: ${err.message}` : err.message);
  }
  header();
  await show();
}

window.addEventListener("hashchange", show);
window.addEventListener("drivelake:unauthorised", () => {
  key.clear();
  login("Your key was not accepted (revoked or expired). Sign in again.");
});
start();
