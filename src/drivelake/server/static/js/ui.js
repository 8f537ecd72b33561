// Small DOM and formatting helpers shared by the pages.

/** el("div.card#id", {attrs, on: {click}}, ...children): a DOM element in one expression. */
export function el(spec, props = {}, ...children) {
  const [tagAndClasses, id] = spec.split("#");
  const [tag, ...classes] = tagAndClasses.split(".");
  const node = document.createElement(tag || "div");
  if (classes.length) node.className = classes.join(" ");
  if (id) node.id = id;
  for (const [name, value] of Object.entries(props || {})) {
    if (name === "on") {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else if (name === "style" && typeof value === "object") {
      for (const [prop, v] of Object.entries(value)) {
        if (prop.startsWith("--")) node.style.setProperty(prop, v);
        else node.style[prop] = v;
      }
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(name, "");
    } else if (value !== false && value !== null && value !== undefined) {
      node.setAttribute(name, value);
    }
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

/** A loading, empty or error state, announced to screen readers. */
export function state(kind, message) {
  return el(`p.state.${kind}`, { role: kind === "error" ? "alert" : "status" }, message);
}

export function replace(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

/** Colours of event types (the map, the plots and the lists use the same ones). */
export const TYPE_COLOURS = {
  harsh_brake: "#d62728",
  harsh_acceleration: "#2ca02c",
  harsh_turn: "#ff7f0e",
  harsh_lane_change: "#9467bd",
  impact: "#8c564b",
  pothole: "#e377c2",
  speeding: "#1f77b4",
};

export const colourOf = (type) => TYPE_COLOURS[type] || "#7f7f7f";

export const label = (type) => (type || "").replaceAll("_", " ");

/** Seconds as m:ss (or h:mm:ss), with tenths when asked. */
export function clock(seconds, tenths = false) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const sign = seconds < 0 ? "-" : "";
  let s = Math.abs(seconds);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const ss = tenths ? s.toFixed(1).padStart(4, "0") : String(Math.floor(s)).padStart(2, "0");
  return h ? `${sign}${h}:${String(m).padStart(2, "0")}:${ss}` : `${sign}${m}:${ss}`;
}

export const km = (metres) => (metres === null || metres === undefined ? "–" : `${(metres / 1000).toFixed(1)} km`);

export const when = (iso) => (iso ? new Date(iso).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "–");

export const short = (id) => (id || "").slice(0, 8);

/** A chip for an event type, coloured like its markers. */
export function typeChip(type) {
  return el("span.chip", { style: { "--c": colourOf(type) } }, label(type));
}

/** A table from rows and [header, cell(row)] columns. */
export function table(rows, columns, caption) {
  return el(
    "table.grid",
    {},
    caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {}, columns.map(([h]) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, columns.map(([, cell]) => el("td", {}, cell(row)))))),
  );
}

/** Run fn at most once per animation frame / after `ms` of quiet. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
