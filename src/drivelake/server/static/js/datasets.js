// Datasets: curated datasets when this version of drivelake has them; otherwise what exists so
// far (the targets that shares point at), said plainly.

import { get } from "./api.js";
import { el, state, table } from "./ui.js";

export async function render(view, { session }) {
  view.append(el("h1", {}, "Datasets"));
  const rows = await get("/api/datasets");
  if (!session.features.datasets) {
    view.append(
      state(
        "empty",
        "Curated datasets (members, recipes, snapshots, diffs, exports) are not available in this version of drivelake. Listed below: the dataset targets that shares point at.",
      ),
    );
  }
  view.append(
    rows.length
      ? table(rows, [
          ["Target", (r) => el("code", {}, r.target || r.name)],
          ["Shares", (r) => (r.shares || []).join(", ") || "–"],
        ])
      : state("empty", "No datasets yet."),
  );
}
