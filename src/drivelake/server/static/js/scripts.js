// Vendored libraries are their minified builds (a third of the bytes to parse), which are
// classic scripts that set a global; this loads one once and hands back that global.

const loading = new Map();

/** The global `name` set by the classic script at `path` (relative to the vendor folder). */
export function vendored(path, name) {
  if (!loading.has(path)) {
    loading.set(
      path,
      new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = new URL(`../vendor/${path}`, import.meta.url).href;
        script.onload = () => resolve(window[name]);
        script.onerror = () => reject(new Error(`could not load ${path}`));
        document.head.append(script);
      }),
    );
  }
  return loading.get(path);
}
