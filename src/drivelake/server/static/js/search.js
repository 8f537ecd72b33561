// Search: words or "more like this" (when the lake has embeddings), filters and SQL over frames
// with their telemetry and events, results as thumbnails grouped into time spans per drive;
// selected spans go into a dataset (their frames become members).

import { ApiError, get, post } from "./api.js";
import { thumbLoader } from "./thumbs.js";
import { clock, el, label, replace, short, state, typeChip } from "./ui.js";

const THUMBS_PER_SPAN = 4;

/** Up to `n` frames spread over a span. */
function spread(frames, n) {
  if (frames.length <= n) return frames;
  return Array.from({ length: n }, (_, i) => frames[Math.round((i * (frames.length - 1)) / (n - 1))]);
}

export async function render(view, { session, params }) {
  const canSearch = session.features.search;
  const [fleet, datasets] = await Promise.all([get("/api/app/fleet", { zoom: 0 }), get("/api/datasets")]);
  let like = params.get("like") || "";
  const q = el("input#q", { type: "search", name: "q", value: params.get("q") || "", placeholder: canSearch ? "cyclist at night" : "words need embeddings (drivelake enrich)", disabled: !canSearch, "aria-label": "Search words" });
  const likeChip = el("span.like");
  const where = el("input", { name: "where", placeholder: "speed_mps > 10 AND hour_utc >= 20", "aria-label": "SQL filter" });
  const select = (name, values, all) =>
    el("select", { name, "aria-label": name }, el("option", { value: "" }, all), values.map((v) => el("option", { value: v }, label(v))));
  const number = (name, text, max) => el("label", {}, text, " ", el("input", { type: "number", name, min: 0, max, step: 1, inputmode: "numeric" }));
  const form = el(
    "form.search-form",
    { role: "search", on: { submit: (e) => { e.preventDefault(); run(); } } },
    el("div.search-row", {}, q, likeChip, el("button", { type: "submit" }, "Search")),
    el(
      "div.search-filters",
      {},
      select("type", fleet.types, "any event"),
      select("vehicle", fleet.vehicles, "any vehicle"),
      number("min_kmh", "speed ≥ km/h", 300),
      number("max_kmh", "speed ≤ km/h", 300),
      number("hour_from", "hour ≥ (UTC)", 23),
      number("hour_to", "hour ≤", 23),
      el("label.grow", {}, "SQL ", where),
    ),
  );
  const notice = el("div.notice");
  const bar = el("div.selection-bar");
  const results = el("div.results", { "aria-live": "polite" });
  view.append(el("h1", {}, "Search"), form, notice, bar, results);
  if (!canSearch) {
    notice.append(state("empty", "Words and “more like this” rank frames by their embeddings, and this lake has none yet (run drivelake enrich --model SPEC over the frames). Until then the filters and SQL search the sampled frames."));
  }
  const selected = new Map(); // "drive:start" -> {drive_id, start_s, end_s}
  const loader = thumbLoader();
  const NEW = "";
  const target = el(
    "select",
    { name: "dataset", "aria-label": "Dataset to add to", on: { change: () => (newName.hidden = target.value !== NEW) } },
    el("option", { value: NEW }, "new dataset…"),
    datasets.map((d) => el("option", { value: d.name }, `${d.name} (${d.members})`)),
  );
  const newName = el("input", { name: "new_dataset", placeholder: "new dataset name", pattern: "[A-Za-z0-9][A-Za-z0-9._-]{0,63}", "aria-label": "New dataset name" });
  const addButton = el("button", { type: "submit" }, "Add");
  const addStatus = el("span.form-status", { role: "status" });
  const addForm = el("form.inline-form", { on: { submit: (e) => { e.preventDefault(); collect(); } } }, el("span.count"), el("span", {}, "→"), target, newName, addButton, addStatus);
  if (datasets.length) target.value = datasets[0].name;
  newName.hidden = target.value !== NEW;
  bar.append(addForm);

  function drawBar() {
    addForm.querySelector(".count").textContent = `${selected.size} selected`;
    addButton.disabled = !selected.size;
    addButton.textContent = `Add ${selected.size} to dataset`;
  }

  async function collect() {
    const create = target.value === NEW;
    const name = create ? newName.value.trim() : target.value;
    if (!name) {
      addStatus.textContent = "Name the new dataset.";
      newName.focus();
      return;
    }
    addButton.disabled = true;
    addStatus.textContent = "Adding…";
    try {
      const done = await post(`/api/datasets/${encodeURIComponent(name)}/members`, { spans: [...selected.values()], create });
      replace(addStatus, `${done.added} frames added to ${done.name} (${done.members} members, version ${done.version}) · `, el("a", { href: `#/datasets/${done.name}` }, "open"));
      if (create) {
        target.append(el("option", { value: done.name }, done.name));
        target.value = done.name;
        newName.value = "";
        newName.hidden = true;
      }
    } catch (err) {
      addStatus.textContent = `Not added: ${err.message}`;
    }
    addButton.disabled = !selected.size;
  }

  function showLike() {
    replace(
      likeChip,
      like ? el("span.chip", {}, `like ${short(like)}…`, el("button.link", { type: "button", "aria-label": "Clear example", on: { click: () => { like = ""; showLike(); } } }, "×")) : null,
    );
  }

  function card(span, i) {
    const key = `${span.drive_id}:${span.start_s}`;
    const chosen = { drive_id: span.drive_id, start_s: span.start_s, end_s: span.end_s };
    const box = el("input", { type: "checkbox", "aria-label": "Select this span", on: { change: () => { box.checked ? selected.set(key, chosen) : selected.delete(key); drawBar(); } } });
    const open = `#/drive/${span.drive_id}?t=${span.start_s}`;
    return el(
      "article.span-card",
      { dataset: { drive: span.drive_id, start: span.start_s, end: span.end_s } },
      el(
        "header",
        {},
        box,
        el("a", { href: open }, `${span.vehicle_id || "drive"} · ${short(span.drive_id)} · ${clock(span.start_s)}–${clock(span.end_s)}`),
        span.event_type ? typeChip(span.event_type) : null,
        span.score != null ? el("span.score", {}, span.score.toFixed(3)) : null,
      ),
      el(
        "div.thumbs",
        {},
        spread(span.frames || [], THUMBS_PER_SPAN).map((f) => {
          const img = el("img", { alt: `frame at ${clock(f.t_s)}`, width: 160, height: 96, dataset: { src: `/api/frames/${f.frame_id}/thumbnail` } });
          loader.observe(img);
          return el(
            "figure.thumb",
            { dataset: { frame: f.frame_id } },
            el("a", { href: `#/drive/${span.drive_id}?t=${f.t_s}` }, img),
            el(
              "figcaption",
              {},
              clock(f.t_s),
              canSearch ? [" · ", el("button.link", { type: "button", on: { click: () => { like = f.frame_id; showLike(); run(); } } }, "more like this")] : null,
            ),
          );
        }),
      ),
    );
  }

  async function run() {
    const data = new FormData(form);
    const kmh = (name) => (data.get(name) ? Number(data.get(name)) / 3.6 : null);
    selected.clear();
    drawBar();
    replace(results, state("loading", "Searching…"));
    try {
      const filters = {
        type: data.get("type"),
        vehicle: data.get("vehicle"),
        min_speed: kmh("min_kmh"),
        max_speed: kmh("max_kmh"),
        hour_from: data.get("hour_from"),
        hour_to: data.get("hour_to"),
        where: data.get("where"),
        limit: 60,
      };
      const words = (data.get("q") || "").trim();
      const spans = canSearch && (words || like) ? await get("/api/app/search", { ...filters, q: words, like }) : await get("/api/app/frames", filters);
      replace(
        results,
        spans.length ? spans.map(card) : state("empty", "Nothing matches. Widen the filters, or sample frames from video (drivelake video process)."),
      );
      results.dataset.count = spans.length;
    } catch (err) {
      replace(results, state("error", err instanceof ApiError ? err.message : `Search failed: ${err.message}`));
    }
  }

  showLike();
  drawBar();
  await run();
  return () => loader.disconnect();
}
