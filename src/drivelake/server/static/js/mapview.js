// A Leaflet map that works offline: a plain background with a scale bar, and basemap tiles only
// when the server is configured with a tile URL (DRIVELAKE_TILE_URL).

import { vendored } from "./scripts.js";

export const L = await vendored("leaflet/leaflet.js", "L");

/** A map in `node`; `tileUrl` (from the session) adds a basemap, otherwise the map is plain. */
export function createMap(node, tileUrl, options = {}) {
  const map = L.map(node, {
    preferCanvas: true,
    zoomSnap: 0.5,
    maxZoom: 18, // as the server's fleet clusters (server/fleet.py, MAX_ZOOM)
    keyboard: true,
    attributionControl: Boolean(tileUrl),
    ...options,
  });
  if (tileUrl) {
    L.tileLayer(tileUrl, { maxZoom: 19, attribution: "basemap: configured tile server" }).addTo(map);
  } else {
    node.classList.add("plain-map");
  }
  L.control.scale({ metric: true, imperial: false }).addTo(map);
  return map;
}
