// Datasets: the list (#/datasets) and one dataset (#/datasets/NAME?at=TAG): counts, recipe,
// snapshots (create, export), a diff between two snapshots, and the members as thumbnails
// (each member's own image, copied into the dataset), each opening its drive at its time.

import { get, post } from "./api.js";
import { thumbLoader } from "./thumbs.js";
import { clock, el, replace, short, state, table, typeChip, when } from "./ui.js";

const PAGE = 60;
const FORMATS = ["parquet", "hf", "coco", "yolo", "webdataset", "clips"];

async function list(view) {
  view.append(el("h1", {}, "Datasets"));
  const rows = await get("/api/datasets");
  view.append(
    rows.length
      ? table(rows, [
          ["Dataset", (r) => el("a", { href: `#/datasets/${r.name}` }, r.name)],
          ["Members", (r) => r.members],
          ["Version", (r) => r.version],
          ["Snapshots", (r) => r.snapshots.join(", ") || "–"],
        ])
      : state("empty", "No datasets yet. Select results on the Search page and add them to a new dataset, or use drivelake dataset create."),
  );
}

/** A member id, short: a frame's index in its video ("…-120"), else the first characters. */
const memberLabel = (id) => (id.length > 16 && id.includes("-") ? `…${id.slice(id.lastIndexOf("-"))}` : short(id));

/** A recipe step as one line: its operation, its parameters, the members after it. */
function step(s) {
  const { op, members, models, ...rest } = s;
  const params = Object.entries(rest)
    .filter(([, v]) => v !== null && v !== "" && !(Array.isArray(v) && !v.length))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return el("li", {}, el("strong", {}, op), " ", el("code", {}, params.join(" ")), ` → ${members} members`);
}

function counts(detail) {
  const chips = (what) =>
    Object.entries(detail.counts[what]).map(([k, n]) => el("span.chip", {}, `${k === "None" ? "none" : k}: ${n}`));
  return el(
    "div.counts-grid",
    {},
    ["kind", "split", "label"].map((what) => el("div", {}, el("span.hint", {}, `${what} `), chips(what))),
  );
}

export async function render(view, { parts, params }) {
  if (!parts.length) return list(view);
  const name = parts[0];
  const at = params.get("at") || "";
  const base = `/api/datasets/${encodeURIComponent(name)}`;
  const detail = await get(base, { at });
  const tags = detail.snapshots.map((s) => s.tag);
  view.dataset.dataset = name;
  view.append(
    el("p.hint", {}, el("a", { href: "#/datasets" }, "← all datasets")),
    el(
      "header.drive-head",
      {},
      el("h1", {}, at ? `${name}@${at}` : name),
      el("p.meta", {}, `${detail.members} members · ${detail.drives} drives · version ${detail.version}${at ? "" : " (latest)"}`),
    ),
    counts(detail),
  );

  // ---------------------------------------------------------------- recipe
  const recipe = el("section.panel", {}, el("h2", {}, "Recipe"), el("ol.recipe", {}, detail.recipe.map(step)));

  // ---------------------------------------------------------------- snapshots and exports
  const jobs = el("ul.jobs");
  let polling = null;
  async function showJobs() {
    const found = await get(`${base}/exports`);
    replace(
      jobs,
      found.map((j) =>
        el(
          "li",
          { dataset: { state: j.state } },
          el("strong", {}, `${j.tag} as ${j.format}`),
          `: ${j.state}`,
          j.state === "running" && j.total ? ` (${j.done}/${j.total})` : "",
          el("span.hint", {}, ` · started ${when(j.started_at)}${j.finished_at ? ` · ended ${when(j.finished_at)}` : ""}`),
          j.state === "done" ? [" → ", el("code", {}, j.path)] : "",
          j.error ? el("span.error", {}, ` — ${j.error}`) : "",
        ),
      ),
    );
    const running = found.some((j) => j.state === "running");
    if (running && !polling) polling = setInterval(showJobs, 1000);
    if (!running && polling) {
      clearInterval(polling);
      polling = null;
    }
  }
  const exportForm = (tag) => {
    const format = el("select", { name: "format", "aria-label": `Export format of ${tag}` }, FORMATS.map((f) => el("option", { value: f }, f)));
    return el(
      "form.row",
      {
        on: {
          submit: async (e) => {
            e.preventDefault();
            try {
              await post(`${base}/exports`, { tag, format: format.value });
              await showJobs();
            } catch (err) {
              snapStatus.textContent = `Export not started: ${err.message}`;
            }
          },
        },
      },
      format,
      el("button", { type: "submit" }, "Export"),
    );
  };
  const tagInput = el("input", { name: "tag", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9._-]{0,63}", placeholder: "v1", "aria-label": "Snapshot tag" });
  const message = el("input", { name: "message", maxlength: 500, placeholder: "what changed", "aria-label": "Snapshot message" });
  const snapStatus = el("p.form-status", { role: "status" });
  const snapForm = el(
    "form.inline-form",
    {
      on: {
        submit: async (e) => {
          e.preventDefault();
          try {
            await post(`${base}/snapshots`, { tag: tagInput.value, message: message.value });
            window.dispatchEvent(new HashChangeEvent("hashchange")); // show the page again
          } catch (err) {
            snapStatus.textContent = `Not created: ${err.message}`;
          }
        },
      },
    },
    tagInput,
    message,
    el("button", { type: "submit" }, "Snapshot latest"),
  );
  const snapshots = el(
    "section.panel",
    {},
    el("h2", {}, "Snapshots"),
    tags.length
      ? table(detail.snapshots, [
          ["Tag", (s) => el("a", { href: `#/datasets/${name}?at=${s.tag}` }, s.tag)],
          ["Version", (s) => s.version],
          ["Export", (s) => exportForm(s.tag)],
        ])
      : state("empty", "No snapshots yet: a snapshot freezes the members so exports and shares are reproducible."),
    at ? null : snapForm,
    snapStatus,
    jobs,
  );

  // ---------------------------------------------------------------- diff
  const pick = (label, value) => el("select", { "aria-label": label }, tags.map((t) => el("option", { value: t, selected: t === value }, t)));
  const from = pick("From snapshot", tags[tags.length - 2]);
  const to = pick("To snapshot", tags[tags.length - 1]);
  const diffOut = el("div.diff", { "aria-live": "polite" });
  const ids = (xs) => (xs.length ? el("code", {}, xs.slice(0, 12).map(memberLabel).join(" ") + (xs.length > 12 ? " …" : "")) : "–");
  const diff = el(
    "section.panel",
    {},
    el("h2", {}, "Diff"),
    tags.length < 2
      ? state("empty", "Two snapshots are needed for a diff.")
      : el(
          "form.inline-form",
          {
            on: {
              submit: async (e) => {
                e.preventDefault();
                let d;
                try {
                  d = await get(`${base}/diff`, { a: from.value, b: to.value });
                } catch (err) {
                  replace(diffOut, state("error", err.message));
                  return;
                }
                replace(
                  diffOut,
                  table(
                    [
                      ["added", d.added],
                      ["removed", d.removed],
                      ["re-split", d.resplit],
                      ["content changed", d.changed],
                    ],
                    [
                      ["", (r) => r[0]],
                      ["Members", (r) => r[1].length],
                      ["Ids", (r) => ids(r[1])],
                    ],
                  ),
                  d.steps_added.length ? el("ol.recipe", {}, el("li.hint", {}, "steps since:"), d.steps_added.map(step)) : null,
                );
              },
            },
          },
          from,
          "→",
          to,
          el("button", { type: "submit" }, "Compare"),
        ),
    diffOut,
  );

  // ---------------------------------------------------------------- members
  const loader = thumbLoader();
  const grid = el("div.members");
  const more = el("button", { type: "button" }, "Show more");
  let offset = 0;
  async function page() {
    const rows = await get(`${base}/members`, { at, limit: PAGE, offset });
    offset += rows.length;
    for (const m of rows) {
      const t = m.t_s ?? m.start_s ?? 0;
      const img = el("img", { alt: `${m.kind} ${memberLabel(m.member_id)}`, width: 160, height: 96, dataset: { src: `${base}/members/${m.member_id}/image${at ? `?at=${at}` : ""}` } });
      if (m.kind === "frame") loader.observe(img);
      grid.append(
        el(
          "figure.thumb.member",
          { dataset: { member: m.member_id } },
          el("a", { href: `#/drive/${m.drive_id}?t=${t}` }, m.kind === "frame" ? img : el("span.thumb-missing", {}, m.kind)),
          el("figcaption", {}, `${short(m.drive_id)} · ${clock(t)} `, m.event_type ? typeChip(m.event_type) : null, m.split ? ` ${m.split}` : ""),
        ),
      );
    }
    more.hidden = offset >= detail.members;
  }
  more.addEventListener("click", page);
  view.append(
    el("div.dataset-grid", {}, el("div", {}, el("h2", {}, `Members (${detail.members})`), grid, more), el("div", {}, recipe, snapshots, diff)),
  );
  if (detail.members) await page();
  else replace(grid, state("empty", "No members."));
  await showJobs();
  view.dataset.state = "ready";
  return () => {
    loader.disconnect();
    if (polling) clearInterval(polling);
  };
}
