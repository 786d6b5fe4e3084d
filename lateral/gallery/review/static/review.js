// Keyboard shortcuts: a key presses the button, form or link marked data-key="<key>" (a, n, c, x, s, u, q, 1-9, , .
// arrows); a click on a photo (or Z) zooms the compared pair.
function zoom(image) {
  const overlay = document.getElementById("zoom");
  if (!overlay) return;
  overlay.replaceChildren();
  const pair = document.querySelectorAll("#compare img");
  const shown = image && !image.closest("#compare") ? [image] : Array.from(pair);
  shown.forEach(function (source) {
    const copy = document.createElement("img");
    copy.src = source.src;
    copy.alt = source.alt;
    overlay.appendChild(copy);
  });
  const hint = document.createElement("p");
  hint.textContent = "click or Esc to close";
  overlay.appendChild(hint);
  overlay.hidden = false;
}

function closeZoom() {
  const overlay = document.getElementById("zoom");
  if (overlay && !overlay.hidden) { overlay.hidden = true; return true; }
  return false;
}

document.addEventListener("click", function (event) {
  if (event.target.closest && event.target.closest("#zoom")) { closeZoom(); return; }
  if (event.target.classList && event.target.classList.contains("zoomable")) zoom(event.target);
});

document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "Escape" && closeZoom()) return;
  const target = event.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA")) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (key === "z") { event.preventDefault(); if (!closeZoom()) zoom(null); return; }
  const element = document.querySelector('[data-key="' + CSS.escape(key) + '"]');
  if (!element) return;
  event.preventDefault();
  const form = element.tagName === "FORM" ? element : element.form;
  if (form) {
    if (form.dataset.sent) return;  // one decision per page, however often the key is pressed
    form.dataset.sent = "1";
    form.requestSubmit(element.tagName === "BUTTON" ? element : null);
  } else if (element.tagName === "A") {
    window.location.href = element.href;
  }
});
