// Keyboard shortcuts: a key presses the form or link marked data-key="<key>" (1-9, n, s, u, q, arrows).
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA")) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  const element = document.querySelector('[data-key="' + CSS.escape(key) + '"]');
  if (!element) return;
  event.preventDefault();
  if (element.tagName === "FORM") {
    if (element.dataset.sent) return;  // one decision per page, however often the key is pressed
    element.dataset.sent = "1";
    element.requestSubmit();
  } else if (element.tagName === "A") {
    window.location.href = element.href;
  }
});
