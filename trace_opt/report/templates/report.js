(function () {
  var steps = Array.prototype.slice.call(document.querySelectorAll("details.step"));
  var filter = document.getElementById("only-changed");
  function apply() {
    steps.forEach(function (s) { s.hidden = filter.checked && s.dataset.changed !== "1"; });
  }
  if (filter) { filter.disabled = false; filter.addEventListener("change", apply); }
  document.querySelectorAll(".chart [data-step]").forEach(function (el) {
    el.addEventListener("click", function () {
      var target = document.getElementById("step-" + el.getAttribute("data-step"));
      if (!target) { return; }
      target.hidden = false; target.open = true; target.scrollIntoView({ block: "center" });
      target.classList.add("flash"); setTimeout(function () { target.classList.remove("flash"); }, 1200);
    });
  });
  var status = document.getElementById("js-status");
  if (status) { status.hidden = true; }  // it says JavaScript is off; it is on
  document.documentElement.setAttribute("data-ready", "true");
})();
