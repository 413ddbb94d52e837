// Bulwark's small client-side helpers. htmx does the heavy lifting.
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  const message = status === 403
    ? "Not allowed: your role is read-only."
    : `The server answered ${status}. Nothing was changed.`;
  const box = document.createElement("div");
  box.className = "alert alert--error";
  box.setAttribute("role", "alert");
  box.textContent = message;
  const main = document.getElementById("main");
  if (main) main.prepend(box);
});

// The CSP refuses inline style attributes, so sizes and colours computed per row
// (progress bars, shares) travel as data-width (a percentage) and data-color and are
// set here, through the CSSOM, on the page and on every region htmx swaps in.
const DATA_STYLED = "[data-width], [data-color]";
function applyDataStyles(root) {
  const found = [...root.querySelectorAll(DATA_STYLED)];
  if (root.matches && root.matches(DATA_STYLED)) found.push(root);
  for (const el of found) {
    const width = Number.parseFloat(el.dataset.width);
    if (Number.isFinite(width)) el.style.width = `${Math.max(0, Math.min(100, width))}%`;
    if (el.dataset.color && /^#[0-9a-fA-F]{3,8}$/.test(el.dataset.color)) {
      el.style.background = el.dataset.color;
    }
  }
}
document.addEventListener("DOMContentLoaded", () => applyDataStyles(document));
document.addEventListener("htmx:load", (event) => applyDataStyles(event.target));
