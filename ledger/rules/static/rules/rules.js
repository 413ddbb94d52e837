// Rules pages: formset rows added from a <template>, and drag-to-reorder of the rules
// table (HTML5 drag and drop; the ↑/↓ buttons do the same without a mouse or JS).
(() => {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-formset-add]");
    if (!button) return;
    const prefix = button.dataset.formsetAdd;
    const total = document.getElementById(`id_${prefix}-TOTAL_FORMS`);
    const template = document.getElementById(`${prefix}-template`);
    const rows = document.getElementById(`${prefix}-rows`);
    const index = Number(total.value);
    const holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replaceAll("__prefix__", String(index));
    const row = holder.firstElementChild;
    rows.appendChild(row);
    total.value = String(index + 1);
    const first = row.querySelector("select, input:not([type=hidden])");
    if (first) first.focus();
    row.closest("form").dispatchEvent(new Event("change", { bubbles: true }));
  });

  let dragged = null;
  document.addEventListener("dragstart", (event) => {
    const row = event.target.closest && event.target.closest("tbody[data-sortable] > tr[draggable]");
    if (!row) return;
    dragged = row;
    row.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", row.dataset.rule || "");
  });
  document.addEventListener("dragover", (event) => {
    if (!dragged) return;
    const row = event.target.closest("tbody[data-sortable] > tr");
    if (!row || row === dragged || row.parentNode !== dragged.parentNode) return;
    event.preventDefault();
    const box = row.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    row.parentNode.insertBefore(dragged, after ? row.nextSibling : row);
  });
  document.addEventListener("drop", (event) => { if (dragged) event.preventDefault(); });
  document.addEventListener("dragend", () => {
    if (!dragged) return;
    const form = dragged.closest("form");
    dragged.classList.remove("is-dragging");
    dragged = null;
    if (form) form.dispatchEvent(new CustomEvent("rules-reordered", { bubbles: true }));
  });
})();
