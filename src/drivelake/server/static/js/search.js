// Search: words or "more like this" (when the search module is installed), filters over frames
// with their telemetry and events, results as thumbnails grouped into time spans per drive.

import { ApiError, blobUrl, get } from "./api.js";
import { clock, el, label, replace, short, state, typeChip } from "./ui.js";

const THUMBS_PER_SPAN = 4;

/** Up to `n` frames spread over a span. */
function spread(frames, n) {
  if (frames.length <= n) return frames;
  return Array.from({ length: n }, (_, i) => frames[Math.round((i * (frames.length - 1)) / (n - 1))]);
}

/** Thumbnails load when scrolled into view, a few at a time (the API is rate-limited). */
function thumbLoader() {
  const queue = [];
  let running = 0;
  const pump = () => {
    while (running < 4 && queue.length) {
      const img = queue.shift();
      running++;
      blobUrl(`/api/frames/${img.dataset.frame}/thumbnail`)
        .then((url) => (img.src = url))
        .catch(() => img.replaceWith(el("span.thumb-missing", {}, "no thumbnail")))
        .finally(() => {
          running--;
          pump();
        });
    }
  };
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) {
        observer.unobserve(entry.target);
        queue.push(entry.target);
      }
    }
    pump();
  });
  return observer;
}

export async function render(view, { session, params }) {
  const canSearch = session.features.search;
  const canCollect = session.features.datasets;
  const fleet = await get("/api/app/fleet", { zoom: 0 });
  let like = params.get("like") || "";
  const q = el("input#q", { type: "search", name: "q", value: params.get("q") || "", placeholder: canSearch ? "cyclist at night" : "words need the search module", "aria-label": "Search words" });
  const likeChip = el("span.like");
  const where = el("input", { name: "where", placeholder: "speed_mps > 10 AND hour_utc >= 20", "aria-label": "SQL filter", disabled: !canSearch });
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
    notice.append(state("empty", "Text and “more like this” search are not available in this version of drivelake (the search module is not installed); the filters below search the sampled frames by event, vehicle, speed and time of day."));
  }
  const selected = new Set();
  const loader = thumbLoader();

  function drawBar() {
    const add = el(
      "button",
      {
        type: "button",
        disabled: !canCollect || !selected.size,
        title: canCollect ? "" : "Datasets are not available in this version of drivelake",
      },
      `Add ${selected.size} selected to a dataset`,
    );
    replace(bar, el("span", {}, `${selected.size} selected`), add, canCollect ? null : el("span.hint", {}, " (datasets are not available in this version)"));
  }

  function showLike() {
    replace(
      likeChip,
      like ? el("span.chip", {}, `like ${short(like)}…`, el("button.link", { type: "button", "aria-label": "Clear example", on: { click: () => { like = ""; showLike(); } } }, "×")) : null,
    );
  }

  function card(span, i) {
    const key = `${span.drive_id}:${span.start_s}`;
    const box = el("input", { type: "checkbox", "aria-label": "Select this span", on: { change: () => { box.checked ? selected.add(key) : selected.delete(key); drawBar(); } } });
    const open = `#/drive/${span.drive_id}?t=${span.start_s}`;
    return el(
      "article.span-card",
      { dataset: { drive: span.drive_id, start: span.start_s } },
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
          const img = el("img", { alt: `frame at ${clock(f.t_s)}`, width: 160, height: 96, dataset: { frame: f.frame_id } });
          loader.observe(img);
          return el(
            "figure.thumb",
            {},
            el("a", { href: `#/drive/${span.drive_id}?t=${f.t_s}` }, img),
            el(
              "figcaption",
              {},
              clock(f.t_s),
              canSearch ? el("button.link", { type: "button", on: { click: () => { like = f.frame_id; showLike(); run(); } } }, " more like this") : null,
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
      let spans;
      const words = data.get("q").trim();
      if (canSearch && (words || like)) {
        spans = await get("/api/app/search", { q: words, like, where: data.get("where"), limit: 60 });
      } else {
        if (words && !canSearch) notice.firstChild?.classList.add("warn");
        spans = await get("/api/app/frames", {
          type: data.get("type"),
          vehicle: data.get("vehicle"),
          min_speed: kmh("min_kmh"),
          max_speed: kmh("max_kmh"),
          hour_from: data.get("hour_from"),
          hour_to: data.get("hour_to"),
          limit: 60,
        });
      }
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
