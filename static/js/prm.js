// Behaviour the templates ask for with data attributes, so that pages carry no inline
// script, event handler or style attribute (the Content-Security-Policy forbids them).
(function () {
  "use strict";

  // <select data-autosubmit>: submit the form on change (filters, language switcher).
  document.addEventListener("change", function (event) {
    const field = event.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.submit();
  });

  // <a data-print>: open the print dialog.
  document.addEventListener("click", function (event) {
    const link = event.target.closest("[data-print]");
    if (!link) return;
    event.preventDefault();
    window.print();
  });

  // data-width="42": a bar's width in percent, set through the CSSOM (allowed by the policy).
  function applyWidths(root) {
    root.querySelectorAll("[data-width]").forEach(function (el) {
      const value = parseFloat(el.dataset.width);
      if (!Number.isNaN(value)) el.style.width = Math.max(0, Math.min(100, value)) + "%";
    });
  }

  applyWidths(document);
  // Fragments swapped in by htmx get the same treatment.
  document.addEventListener("htmx:afterSwap", function (event) {
    applyWidths(event.target);
  });
})();
