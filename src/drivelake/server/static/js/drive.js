// Drive: the video with speed, acceleration and yaw-rate plots on one time axis, event markers,
// the position on a mini-map, and tags/notes. Playing moves the cursor on the plots and the map;
// clicking a plot, an event or the map seeks the video. Drives without video get the same page
// with a timeline player. Partners (?share=ID) see their share's view, without video or tags.

import { get, post } from "./api.js";
import { vendored } from "./scripts.js";
import { clock, colourOf, el, km, label, replace, state, typeChip, when } from "./ui.js";

const PLOTS = [
  { title: "Speed", unit: "km/h", streams: ["can", "gnss", "pose"], column: "speed_mps", scale: 3.6 },
  { title: "Longitudinal acceleration", raw: "Acceleration, x axis", unit: "m/s²", streams: ["accel"], column: "ax", scale: 1 },
  { title: "Lateral acceleration", raw: "Acceleration, y axis", unit: "m/s²", streams: ["accel"], column: "ay", scale: 1 },
  { title: "Vertical acceleration", raw: "Acceleration, z axis", unit: "m/s²", streams: ["accel"], column: "az", scale: 1 },
  { title: "Yaw rate", raw: "Rotation rate, z axis", unit: "°/s", streams: ["gyro"], column: "gz", scale: 180 / Math.PI },
];
const AXIS_PX = 56;

/** About the plots' width before they are laid out: the window less the side column and axis. */
function plotWidth() {
  const page = window.innerWidth;
  return page > 900 ? page - 400 - AXIS_PX : page - AXIS_PX;
}

/** What the vector plots' captions say about their axes (the server's `frame`). */
function axesNote(frame) {
  if (frame.name === "vehicle") return frame.calibrated ? ` · vehicle frame, calibrated from the data (quality ${frame.quality})` : "";
  return ` · raw ${frame.name.replaceAll("_", " ")} axes (${frame.why})`;
}

/** The first stream that carries a plot's channel, as [x, y] arrays. */
function series(byStream, plot) {
  for (const name of plot.streams) {
    const s = byStream[name];
    if (s && s[plot.column] && s[plot.column].some((v) => v !== null)) {
      return [s.t_s, s[plot.column].map((v) => (v === null ? null : v * plot.scale))];
    }
  }
  return null;
}

/** Index of the last element of sorted `xs` that is <= x (0 if none). */
function bisect(xs, x) {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (xs[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The plot and map libraries (200 kB of minified JS to compile): uPlot, and Leaflet's {L, createMap}. */
const libraries = () => Promise.all([vendored("uplot/uPlot.iife.min.js", "uPlot"), import("./mapview.js")]);

/** Where a video starts on the drive's timeline (s). */
const videoStart = (v) => (v.start_s || 0) + (v.offset_s || 0);

/** The playable video that covers drive time `x`, or null. */
const videoAt = (videos, x) => videos.find((v) => v.playable && x >= videoStart(v) && x < videoStart(v) + v.duration_s) || null;

/** A video's signed link: the one its list came with, or a fresh one once that has expired
 * (links are signed for hours; a page can stay open longer). */
async function signedUrl(v) {
  if (v.url && v.expires * 1000 > Date.now() + 60_000) return v.url;
  return (await get(`/api/app/videos/${v.video_id}/url`)).url;
}

/** Point `video` at `url`: true once its metadata has loaded, false if it cannot be played. */
function loadVideo(video, url) {
  video.src = url;
  return new Promise((resolve) => {
    video.addEventListener("loadedmetadata", () => resolve(true), { once: true });
    video.addEventListener("error", () => resolve(false), { once: true });
  });
}

/** The player, loading the video at the start time as soon as the drive's video list is in:
 * the file is fetched while the rest of the data arrives and the page is drawn. */
function openPlayer(videos, startAt) {
  const video = el("video#player", { controls: true, muted: true, playsinline: true, preload: "auto", "aria-label": "Drive video" });
  const first = videoAt(videos, startAt) || videos.find((v) => v.playable) || null;
  return { video, first, loaded: first ? loadVideo(video, first.url) : null };
}

/** The drive page's five requests (and its player). The shell starts them as soon as it knows
 * the route, side by side with the session check (`data` in render), so the page waits for one
 * round trip less; the libraries start then too, to compile while the browser waits. */
export function load({ parts, params }) {
  libraries();
  const driveId = parts[0];
  const share = params.get("share");
  const base = share ? `/api/shares/${share}/drives/${driveId}` : `/api/drives/${driveId}`;
  const videos = share ? Promise.resolve([]) : get(`/api/app/drives/${driveId}/videos`);
  return Promise.all([
    get(base),
    get(`${base}/plot`, { width: Math.round(plotWidth()) }),
    get(`${base}/events`),
    videos,
    share ? [] : get(`/api/app/drives/${driveId}/tags`),
    videos.then((list) => openPlayer(list, Number(params.get("t")) || 0)),
  ]);
}

export async function render(view, { parts, params, session, data }) {
  const driveId = parts[0];
  const share = params.get("share");
  view.dataset.state = "loading";
  const [[uPlot, { L, createMap }], [drive, plotted, events, videos, tags, player]] = await Promise.all([
    libraries(),
    data || load({ parts, params }),
  ]);
  const byStream = plotted.streams;
  const lastT = Math.max(0, ...Object.values(byStream).map((s) => s.t_s[s.t_s.length - 1] || 0));
  const duration = drive.duration_s || lastT;
  const startAt = Number(params.get("t")) || 0;

  // ---------------------------------------------------------------- layout
  const title = el(
    "header.drive-head",
    {},
    el("h1", {}, share ? `Shared drive ${driveId.slice(0, 8)}` : `Drive ${driveId.slice(0, 8)}`),
    el(
      "p.meta",
      {},
      [drive.vehicle_id || drive.vehicle || "unknown vehicle", when(drive.start_utc), clock(duration), km(drive.distance_m)].join(" · "),
    ),
  );
  const { video } = player;
  const media = el("div.media");
  const timeLabel = el("output.time", { "aria-live": "off" });
  const scrub = el("input.scrub", { type: "range", min: 0, max: duration, step: 0.1, value: 0, "aria-label": "Time in drive (seconds)" });
  const playButton = el("button", { type: "button", "aria-keyshortcuts": "Space" }, "Play");
  const strip = el("div.event-strip", { style: { marginLeft: `${AXIS_PX}px` }, "aria-label": "Events on the time axis" });
  const plots = el("div.plots#plots", { dataset: { cursorT: "" } });
  const mapNode = el("div.minimap", { "aria-label": "Position on the map" });
  const eventList = el("ol.events");
  const notes = el("div.notes");
  view.append(
    title,
    el(
      "div.drive-grid",
      {},
      el(
        "div.drive-main",
        {},
        media,
        el("div.transport", {}, playButton, scrub, timeLabel),
        el("p.hint", {}, "Keys: Space play/pause · ←/→ 1 s (Shift 10 s) · N/P next/previous event · click a plot to seek"),
        strip,
        plots,
      ),
      el("div.drive-side", {}, mapNode, el("h2", {}, `Events (${events.length})`), eventList, notes),
    ),
  );

  // ---------------------------------------------------------------- time and video
  let t = 0;
  let current = null; // the video shown
  let ticking = false;
  let timerPlaying = false;
  let lastFrame = 0;

  /** Show video `v` at drive time `at`; `loading`: its load, when already started. */
  async function show(v, at, loading = null) {
    current = v;
    const loaded = await (loading || loadVideo(video, await signedUrl(v)));
    if (!loaded) {
      // The plots and the map still follow the timeline player.
      current = null;
      replace(media, state("error", "This video could not be loaded; the plots and the map follow the timeline player."));
      return;
    }
    if (!video.isConnected) replace(media, video); // after another video failed
    video.currentTime = Math.max(0, at - videoStart(v));
  }

  async function seek(x) {
    t = Math.min(Math.max(0, x), duration);
    const v = videoAt(videos, t);
    if (v && v !== current) await show(v, t);
    else if (v) video.currentTime = t - videoStart(v);
    moveCursor();
  }

  const playing = () => (current ? !video.paused : timerPlaying);

  function frame(now) {
    if (current && !video.paused) {
      t = videoStart(current) + video.currentTime;
    } else if (timerPlaying) {
      t = Math.min(duration, t + (now - lastFrame) / 1000);
      if (t >= duration) timerPlaying = false;
    }
    lastFrame = now;
    moveCursor();
    ticking = playing();
    if (ticking) requestAnimationFrame(frame);
  }

  function startTicking() {
    if (!ticking) {
      ticking = true;
      lastFrame = performance.now();
      requestAnimationFrame(frame);
    }
  }

  function togglePlay() {
    if (current) {
      if (video.paused) video.play();
      else video.pause();
    } else {
      timerPlaying = !timerPlaying;
      if (timerPlaying) startTicking();
    }
    playButton.textContent = playing() ? "Pause" : "Play";
  }

  video.addEventListener("play", () => { playButton.textContent = "Pause"; startTicking(); });
  video.addEventListener("pause", () => (playButton.textContent = "Play"));
  video.addEventListener("seeked", () => {
    if (current) t = videoStart(current) + video.currentTime;
    moveCursor();
  });
  playButton.addEventListener("click", togglePlay);
  scrub.addEventListener("input", () => seek(Number(scrub.value)));

  // The video has been loading since its list arrived; the page is ready once it is at the
  // start time (awaited at the end, after the plots and the map are drawn).
  let opening = null;
  if (player.first) {
    media.append(video);
    opening = show(player.first, startAt, player.loaded);
  } else {
    const why = share
      ? "Video is not shared through the API (partners receive anonymised clips in export bundles)."
      : videos.length
        ? "This drive's video cannot be played in the browser (codec or container); plots and map still follow the timeline."
        : "No video for this drive: the plots and the map follow the timeline player.";
    media.append(state("empty", why));
  }

  // ---------------------------------------------------------------- plots
  const charts = [];
  const heads = [];
  const vehicleFrame = plotted.frame.name === "vehicle";
  // Read once: each read after a chart is added would force another layout.
  let plotsWidth = Math.max(300, plots.clientWidth);
  for (const plot of PLOTS) {
    const data = series(byStream, plot);
    if (!data) continue;
    const title = plot.raw && !vehicleFrame ? plot.raw : plot.title;
    const frame = plot.raw ? axesNote(plotted.frame) : "";
    const box = el("figure.plot", {}, el("figcaption", {}, `${title} (${plot.unit})${frame}`));
    plots.append(box);
    const chart = new uPlot(
      {
        width: plotsWidth,
        height: 110,
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, sync: { key: `drive-${driveId}` }, points: { show: false } },
        scales: { x: { time: false, range: [0, duration] } },
        axes: [
          { size: 28, values: (u, ticks) => ticks.map((s) => clock(s)) },
          { size: AXIS_PX },
        ],
        series: [{}, { stroke: "#1f5f99", width: 1.25, spanGaps: true }],
        hooks: {
          draw: [
            (u) => {
              const { ctx } = u;
              const { top, height } = u.bbox;
              for (const e of events) {
                const x0 = u.valToPos(e.start_s, "x", true);
                const x1 = u.valToPos(e.end_s ?? e.start_s, "x", true);
                ctx.fillStyle = `${colourOf(e.type)}40`;
                ctx.fillRect(x0, top, Math.max(3, x1 - x0), height);
              }
            },
          ],
        },
      },
      data,
      box,
    );
    const head = el("div.playhead");
    chart.over.append(head);
    chart.over.addEventListener("click", (e) => seek(chart.posToVal(e.offsetX, "x")));
    charts.push(chart);
    heads.push(head);
  }
  if (!charts.length) plots.append(state("empty", "This drive has no speed, acceleration or yaw-rate samples to plot."));

  // Event markers on the time axis (buttons: focusable, clickable).
  for (const e of events) {
    const at = `${(100 * e.start_s) / Math.max(duration, 1e-9)}%`;
    const go = () => seek(e.start_s);
    strip.append(
      el("button.event-mark", { type: "button", title: `${label(e.type)} at ${clock(e.start_s, true)}`, style: { left: at, "--c": colourOf(e.type) }, on: { click: go } }),
    );
    eventList.append(
      el(
        "li",
        {},
        el(
          "button.link",
          { type: "button", on: { click: go }, dataset: { eventId: e.event_id } },
          typeChip(e.type),
          ` ${clock(e.start_s, true)} · ${e.severity || ""}${e.peak != null ? ` · ${e.peak.toFixed(1)} ${e.unit || ""}` : ""}`,
        ),
      ),
    );
  }
  if (!events.length) eventList.append(el("li", {}, state("empty", "No events detected on this drive.")));

  // ---------------------------------------------------------------- mini-map
  const gnss = [byStream.gnss, byStream.pose].find((s) => s && s.lat); // the server sends one
  const track = [];
  const trackT = [];
  if (gnss && gnss.lat) {
    gnss.lat.forEach((lat, i) => {
      if (lat !== null && gnss.lon[i] !== null) {
        track.push([lat, gnss.lon[i]]);
        trackT.push(gnss.t_s[i]);
      }
    });
  }
  let map = null;
  let here = null;
  if (track.length) {
    map = createMap(mapNode, session.tile_url);
    L.polyline(track, { color: "#35506b", weight: 3 }).addTo(map);
    for (const e of events.filter((e) => e.lat != null)) {
      L.circleMarker([e.lat, e.lon], { radius: 6, color: "#fff", weight: 1, fillColor: colourOf(e.type), fillOpacity: 1 })
        .bindTooltip(`${label(e.type)} ${clock(e.start_s)}`)
        .on("click", () => seek(e.start_s))
        .addTo(map);
    }
    here = L.circleMarker(track[0], { radius: 7, color: "#000", weight: 2, fillColor: "#ffd400", fillOpacity: 1 }).addTo(map);
    map.fitBounds(L.latLngBounds(track), { padding: [12, 12] });
  } else {
    mapNode.append(state("empty", "No positions for this drive."));
  }

  function moveCursor() {
    charts.forEach((chart, i) => {
      heads[i].style.left = `${chart.valToPos(t, "x")}px`;
    });
    plots.dataset.cursorT = t.toFixed(3);
    scrub.value = t;
    timeLabel.textContent = `${clock(t, true)} / ${clock(duration)}`;
    if (here) here.setLatLng(track[bisect(trackT, t)]);
  }

  // ---------------------------------------------------------------- tags and notes
  if (!share) {
    const list = el("ul.tag-list");
    const showTags = (items) =>
      replace(
        list,
        items.length
          ? items.map((g) =>
              el(
                "li",
                {},
                el("span.kind", {}, g.kind),
                " ",
                g.t_s != null ? el("button.link", { type: "button", on: { click: () => seek(g.t_s) } }, clock(g.t_s)) : null,
                " ",
                g.text,
              ),
            )
          : [state("empty", "No tags or notes yet.")],
      );
    showTags(tags);
    const text = el("input", { name: "text", required: true, maxlength: 2000, placeholder: "e.g. glare, cyclist, near miss" });
    const kind = el("select", { name: "kind", "aria-label": "Kind" }, el("option", { value: "tag" }, "tag"), el("option", { value: "note" }, "note"));
    const atTime = el("input", { type: "checkbox", name: "at", checked: true });
    const status = el("p.form-status", { role: "status" });
    const form = el(
      "form.tag-form",
      {
        on: {
          submit: async (e) => {
            e.preventDefault();
            try {
              const made = await post(`/api/app/drives/${driveId}/tags`, { kind: kind.value, text: text.value, t_s: atTime.checked ? t : null });
              tags.push(made);
              showTags(tags);
              text.value = "";
              status.textContent = `${made.kind} saved`;
            } catch (err) {
              status.textContent = `Not saved: ${err.message}`;
            }
          },
        },
      },
      kind,
      el("label.grow", {}, el("span.sr", {}, "Text"), text),
      el("label", {}, atTime, " at cursor"),
      el("button", { type: "submit" }, "Add"),
    );
    replace(notes, el("h2", {}, "Tags and notes"), list, form, status);
  }

  // ---------------------------------------------------------------- keyboard, resize, start
  function onKey(e) {
    if (e.target.closest("input, textarea, select, [contenteditable]") && e.target !== scrub) return;
    const step = e.shiftKey ? 10 : 1;
    const next = (dir) => {
      const sorted = events.map((ev) => ev.start_s).sort((a, b) => a - b);
      const found = dir > 0 ? sorted.find((s) => s > t + 0.05) : sorted.reverse().find((s) => s < t - 0.05);
      if (found !== undefined) seek(found);
    };
    const actions = {
      " ": togglePlay,
      ArrowLeft: () => seek(t - step),
      ArrowRight: () => seek(t + step),
      n: () => next(1),
      p: () => next(-1),
    };
    const action = actions[e.key];
    if (action && !(e.target === scrub && e.key.startsWith("Arrow"))) {
      e.preventDefault();
      action();
    }
  }
  document.addEventListener("keydown", onKey);
  // Observing calls back once at the start, with the width the charts were drawn at: redraw
  // only when the width has changed.
  const resize = new ResizeObserver(() => {
    const width = Math.max(300, plots.clientWidth);
    if (width === plotsWidth) return;
    plotsWidth = width;
    for (const chart of charts) chart.setSize({ width, height: 110 });
    moveCursor();
  });
  resize.observe(plots);

  await opening;
  t = Math.min(startAt, duration);
  moveCursor();
  view.dataset.state = "ready";
  return () => {
    document.removeEventListener("keydown", onKey);
    resize.disconnect();
    video.pause();
    video.removeAttribute("src");
    if (map) map.remove();
  };
}
