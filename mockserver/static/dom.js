// Small DOM helpers shared by the page's modules.

export const $ = (selector) => document.querySelector(selector);
/** The mock server's base URL (the page is served at its root). */
export const ROOT = new URL(".", location.href).href.replace(/\/$/, "");
export const WS_ROOT = ROOT.replace(/^http/, "ws");

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child != null && child !== false) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export async function getJSON(path, init = {}) {
  const response = await fetch(`${ROOT}${path}`, { cache: "no-store", ...init });
  if (!response.ok) throw Object.assign(new Error(`${path}: HTTP ${response.status}`), { status: response.status });
  return response.json();
}
