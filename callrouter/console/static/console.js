// Live refresh without a build chain: pages that set data-refresh reload
// themselves every N seconds, unless someone is typing in a form.
(function () {
  var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (!seconds) { return; }
  setInterval(function () {
    var active = document.activeElement;
    var typing = active && (active.tagName === "INPUT" || active.tagName === "SELECT" || active.tagName === "TEXTAREA");
    if (!typing && document.visibilityState === "visible") { window.location.reload(); }
  }, seconds * 1000);
})();
