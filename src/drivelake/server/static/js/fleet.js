// Fleet: drives and events on a map. The server clusters events into screen cells for the map's
// zoom and viewport (never 100,000 DOM markers); tracks come only when few drives are in view,
// otherwise a density layer of drives shows where the fleet drives.

import { get } from "./api.js";
import { L, createMap } from "./mapview.js";
import { colourOf, debounce, el, label, replace, state, typeChip } from "./ui.js";

/** A cluster's icon: a pie of its types (conic gradient) with the count in the middle. */
function clusterIcon(cell) {
  const entries = Object.entries(cell.types).sort((a, b) => b[1] - a[1]);
  let at = 0;
  const stops = entries.map(([type, n]) => {
    const from = (at / cell.n) * 360;
    at += n;
    return `${colourOf(type)} ${from}deg ${(at / cell.n) * 360}deg`;
  });
  const size = cell.n === 1 ? 14 : Math.round(22 + 8 * Math.log10(cell.n));
  const text = cell.n === 1 ? "" : cell.n >= 10000 ? `${Math.round(cell.n / 1000)}k` : String(cell.n);
  return L.divIcon({
    className: "cluster",
    html: `<span style="background:conic-gradient(${stops.join(",")})">${text}</span>`,
    iconSize: [size, size],
  });
}

export async function render(view, { session, params }) {
  const counts = el("p.counts", { role: "status" }, "Loading…");
  const histogram = el("div.histogram");
  const form = el("form.filters", {
    "aria-label": "Filters",
    on: { change: () => refresh(), submit: (e) => e.preventDefault() },
  });
  const layers = el(
    "fieldset.layers",
    {},
    el("legend", {}, "Layers"),
    ...[["events", "Events"], ["density", "Drive density"], ["tracks", "Tracks"]].map(([name, text]) =>
      el("label", {}, el("input", { type: "checkbox", name, checked: true, on: { change: () => draw() } }), text),
    ),
  );
  const note = el("p.note");
  const mapNode = el("div.map#fleet-map", { role: "application", "aria-label": "Fleet map", dataset: { state: "loading" } });
  view.append(
    el("aside.side", {}, el("h1", {}, "Fleet"), counts, form, histogram, layers, note),
    el("div.map-wrap", {}, mapNode),
  );
  const map = createMap(mapNode, session.tile_url, { center: [20, 0], zoom: 2 });
  const eventLayer = L.layerGroup().addTo(map);
  const densityLayer = L.layerGroup().addTo(map);
  const trackLayer = L.layerGroup().addTo(map);
  // A cluster's list of events takes the focus when it opens (keyboard users pick from it).
  map.on("popupopen", (e) => e.popup.getElement().querySelector("button")?.focus());
  let summary = null;
  let tracks = null;
  let controller = null;
  let built = false;

  function filters() {
    const data = new FormData(form);
    const day = (name, end) => (data.get(name) ? `${data.get(name)}T${end ? "23:59:59" : "00:00:00"}Z` : null);
    return {
      start: day("start", false),
      end: day("end", true),
      vehicle: data.get("vehicle") || null,
      type: data.getAll("type"),
      severity: data.getAll("severity"),
    };
  }

  function buildForm(s) {
    const options = (name, values, text) =>
      el(
        "fieldset",
        {},
        el("legend", {}, text),
        values.map((v) => el("label", {}, el("input", { type: "checkbox", name, value: v }), name === "type" ? typeChip(v) : v)),
      );
    replace(
      form,
      el("label", {}, "From ", el("input", { type: "date", name: "start" })),
      el("label", {}, "To ", el("input", { type: "date", name: "end" })),
      el(
        "label",
        {},
        "Vehicle ",
        el("select", { name: "vehicle" }, el("option", { value: "" }, "all vehicles"), s.vehicles.map((v) => el("option", { value: v }, v))),
      ),
      s.types.length ? options("type", s.types, "Event types") : null,
      s.severities.length ? options("severity", s.severities, "Severity") : null,
    );
    built = true;
  }

  function drawHistogram(s) {
    const max = Math.max(1, ...Object.values(s.by_type));
    replace(
      histogram,
      el("h2", {}, "Events per type"),
      Object.keys(s.by_type).length
        ? el(
            "ul.bars",
            {},
            Object.entries(s.by_type).map(([type, n]) =>
              el(
                "li",
                {},
                el("span.bar-label", {}, label(type)),
                el("span.bar", { style: { width: `${(100 * n) / max}%`, background: colourOf(type) } }),
                el("span.bar-n", {}, n.toLocaleString()),
              ),
            ),
          )
        : state("empty", "No events match."),
    );
  }

  function openEvent(e) {
    location.hash = `#/drive/${e.drive_id}?t=${e.start_s}&event=${e.event_id}`;
  }

  function eventList(cell) {
    return el(
      "ul.event-list",
      {},
      cell.events.map((e) =>
        el(
          "li",
          {},
          el(
            "button.link",
            { type: "button", on: { click: () => openEvent(e) } },
            typeChip(e.type),
            ` ${e.severity || ""} · ${e.vehicle_id || "?"} · ${e.start_s.toFixed(1)} s`,
          ),
        ),
      ),
    );
  }

  function draw() {
    if (!summary) return;
    const on = (name) => layers.querySelector(`input[name=${name}]`).checked;
    eventLayer.clearLayers();
    densityLayer.clearLayers();
    trackLayer.clearLayers();
    if (on("density")) {
      const max = Math.max(1, ...summary.density.map((c) => c[2]));
      for (const [lat, lon, n] of summary.density) {
        L.circleMarker([lat, lon], {
          radius: 10,
          stroke: false,
          fillColor: "#3b6ea8",
          fillOpacity: 0.15 + 0.6 * (Math.log1p(n) / Math.log1p(max)),
          interactive: false,
        }).addTo(densityLayer);
      }
    }
    if (on("tracks") && tracks && tracks.tracks) {
      for (const t of tracks.tracks) {
        L.polyline(t.points, { color: "#35506b", weight: 2, opacity: 0.7 })
          .bindTooltip(`${t.vehicle_id || "drive"} ${t.drive_id.slice(0, 8)}`)
          .on("click", () => (location.hash = `#/drive/${t.drive_id}`))
          .addTo(trackLayer);
      }
    }
    if (on("events")) {
      for (const cell of summary.clusters) {
        const marker = L.marker([cell.lat, cell.lon], {
          icon: clusterIcon(cell),
          keyboard: true,
          title: `${cell.n} event${cell.n > 1 ? "s" : ""}: ${Object.entries(cell.types).map(([t, n]) => `${label(t)} ${n}`).join(", ")}`,
          riseOnHover: true,
        });
        if (cell.n === 1) {
          marker.on("click", () => openEvent(cell.events[0]));
        } else if (cell.events) {
          marker.bindPopup(() => eventList(cell));
        } else {
          marker.on("click", () => map.setView([cell.lat, cell.lon], Math.min(map.getZoom() + 2, 18)));
        }
        marker.addTo(eventLayer);
        const node = marker.getElement();
        // Leaflet makes markers focusable but not pressable: Enter or Space acts as a click.
        node.addEventListener("keydown", (e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            marker.fire("click");
          }
        });
        node.dataset.n = cell.n;
        if (cell.events) node.dataset.events = cell.events.map((e) => e.event_id).join(" ");
      }
    }
    note.textContent =
      tracks && tracks.tracks === null
        ? `${tracks.drives_in_view.toLocaleString()} drives in view: zoom in to see their tracks.`
        : "";
  }

  /** Load and draw the summary for the viewport; `fit`: for the map's size, then fit the map. */
  async function refresh(fit = false) {
    if (controller) controller.abort();
    controller = new AbortController();
    const size = map.getSize();
    const b = map.getBounds().pad(0.2);
    const box = fit ? {} : { south: b.getSouth(), west: b.getWest(), north: b.getNorth(), east: b.getEast() };
    const view = fit ? { width: Math.max(64, size.x), height: Math.max(64, size.y) } : {};
    mapNode.dataset.state = "loading";
    try {
      const f = filters();
      [summary, tracks] = await Promise.all([
        get("/api/app/fleet", { ...f, ...box, ...view, zoom: Math.round(map.getZoom()) }, { signal: controller.signal }),
        layers.querySelector("input[name=tracks]").checked
          ? get("/api/app/tracks", { ...f, ...box }, { signal: controller.signal })
          : null,
      ]);
      if (fit && summary.bounds) map.fitBounds(summary.bounds, { padding: [20, 20], animate: false });
      if (!built) buildForm(summary);
      counts.textContent = `${summary.drives.toLocaleString()} drives · ${summary.events.toLocaleString()} events`;
      drawHistogram(summary);
      draw();
      mapNode.dataset.state = summary.drives ? "ready" : "empty";
      if (!summary.drives) note.textContent = "No drives match: ingest some (drivelake demo) or widen the filters.";
    } catch (err) {
      if (err.name === "AbortError") return;
      mapNode.dataset.state = "error";
      replace(counts, state("error", `Could not load the fleet: ${err.message}`));
    }
  }

  // One request fits the map to the fleet and fills it (the server clusters at the fitted
  // zoom); then the page follows the viewport.
  await refresh(true);
  map.on("moveend", debounce(() => refresh(), 120));
  return () => {
    if (controller) controller.abort();
    map.off();
    map.remove();
  };
}
