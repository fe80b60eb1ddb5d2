// Copy buttons and live counts on a facilitator's assessment page: server-sent events from /assessments/ID/events
// replace the started/submitted numbers as responses come in. Self-hosted; the page works without it.
(function () {
  // Copy buttons: shown only where the script runs (without it, one click selects the whole link).
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
        button.textContent = "Copied";
      });
    });
  });
  var table = document.querySelector("table.links[data-events]");
  if (!table || !window.EventSource) { return; }
  var source = new EventSource(table.getAttribute("data-events"));
  source.addEventListener("counts", function (event) {
    var data = JSON.parse(event.data);
    var rows = table.querySelectorAll("tbody tr");
    data.links.forEach(function (link, n) {
      if (!rows[n]) { return; }
      rows[n].querySelector("td.started").textContent = link.started;
      rows[n].querySelector("td.submitted").textContent = link.submitted;
    });
    document.getElementById("submitted-total").textContent = data.submitted;
    var note = document.getElementById("live-note");
    if (note) { note.textContent = "Counts update by themselves."; }
  });
})();
