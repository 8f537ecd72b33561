// Thumbnails that load when scrolled into view, a few at a time (the API is rate-limited).
// Images cannot send the API key, so each is fetched with it and shown from an object URL.

import { blobUrl } from "./api.js";
import { el } from "./ui.js";

/** An observer: `observe(img)` loads `img.dataset.src` once the image comes into view. */
export function thumbLoader() {
  const queue = [];
  let running = 0;
  const pump = () => {
    while (running < 4 && queue.length) {
      const img = queue.shift();
      running++;
      blobUrl(img.dataset.src)
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
