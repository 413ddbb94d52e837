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
